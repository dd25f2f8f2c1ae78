"""Spain, DGOJ monitoring model v3.3: the RUD (player registry) and CJD (gaming account) files.

Element names, order, enumerations, date and amount formats are the regulator's own (BOE-A-2024-12639,
REPORTS.md): every file is validated, before its run may be `done`, against xsd/dgoj_monitoring_v3_3.xsd,
the project's own schema of what this module writes, derived from the published format and stricter than
it where we can. We do not keep the regulator's file; scripts/check_dgoj_against_regulator_xsd.py checks
sample files against a copy of it on demand. The file is written element by element with lxml's
incremental writer, one sub-record of at most 1,000 players at a time, so memory does not grow with
the number of players.

Production signs the batch (XAdES-BES) and zips it with AES-256 before upload: `sign_batch` is the
seam for that step; it returns the file unchanged here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from functools import cache
from itertools import islice
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from django.conf import settings
from lxml import etree

from apps.core import clock
from apps.core.money import minor_units
from apps.ledger.selectors import TransactionKind
from apps.limits.selectors import LimitKind, LimitPeriod
from apps.players.selectors import PlayerStatus, StatusReason

from . import selectors
from .registry import XSD_DIR, Period, ReportInvalid, ReportType, register

NS = "http://cnjuego.gob.es/sci/v3.3.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
VERSION = "3.3"
SUBRECORD_PLAYERS = 1000  # DGOJ: a record over 1,000 players is split into sub-records of at most 1,000
XSD_PATH = XSD_DIR / "dgoj_monitoring_v3_3.xsd"  # ours, not the regulator's file (REPORTS.md)


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


def validate_file(path: Path) -> None:
    """Raise ReportInvalid with the schema errors of the file (line: message).

    The parser validates as it streams and each player is dropped once checked, so a monthly file with
    every player is validated in bounded memory.
    """
    jugador = f"{{{NS}}}Jugador"
    try:
        for _, element in etree.iterparse(str(path), events=("end",), schema=_schema(), huge_tree=True):
            if element.tag == jugador:
                element.clear(keep_tail=True)
                parent = element.getparent()
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        errors = [f"line {e.line}: {e.message}" for e in exc.error_log] or [str(exc)]
        raise ReportInvalid(errors) from None


def sign_batch(path: Path) -> Path:
    """Seam for XAdES-BES signing and AES-256 zipping (production); not required here."""
    return path


# --- formats ---------------------------------------------------------------------------------------


def fecha_hora(moment: datetime, time_zone: str) -> str:
    """yyyymmddhhmmss+hhmm in the regulator's time zone (the offset says which): the schema's date-aaaammddhhmmssTZ."""
    local = moment.astimezone(ZoneInfo(time_zone))
    return local.strftime("%Y%m%d%H%M%S%z")


def fecha_hora_local(moment: datetime, time_zone: str) -> str:
    """yyyymmddhhmmss, no offset, in the regulator's time zone: the schema's date-aaaammddhhmmss (record
    headers, the rectified record's date and a player's activation take no offset)."""
    return moment.astimezone(ZoneInfo(time_zone)).strftime("%Y%m%d%H%M%S")


def cantidad(minor: int, currency: str) -> str:
    """Always two decimals, as the format asks, whatever the currency's minor unit."""
    value = Decimal(int(minor)).scaleb(-minor_units(currency))
    return f"{value.quantize(Decimal('0.01')):f}"


def si_no(flag: bool) -> str:
    return "S" if flag else "N"


def _e(parent, name: str, text: str | None = None):
    child = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        child.text = text
    return child


def _importe(parent, name: str, lines: dict[str, int]) -> None:
    """An amount with its unit(s); a required empty total is written 0 in the wallet unit, never empty."""
    element = _e(parent, name)
    for unit, minor in (lines or {"EUR": 0}).items():
        line = _e(element, "Linea")
        _e(line, "Cantidad", cantidad(minor, unit))
        _e(line, "Unidad", unit)


def _chunks(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(ids)
    while chunk := list(islice(iterator, size)):
        yield chunk


class DgojReport(ReportType):
    fmt = "xml"
    subtype: str  # RUD | CJD
    register_type: str  # RU | CJ
    xsi_type: str  # RegistroRUD | RegistroCJD

    @property
    def operator_id(self) -> str:
        return self.market.report_operator_id

    @property
    def store_id(self) -> str:
        return self.market.report_store_id

    @property
    def fiscal_region(self) -> str:
        """RUD's required RegionFiscal (01-22): the licence's, configured per market; we hold no per-player value."""
        return self.market.report_fiscal_region

    def batch_id(self, *, period: Period, run) -> str:
        """Unique per store: the type, the period and our run id."""
        return f"{self.subtype}{period.compact}R{run.pk}"

    def record_id(self, *, period: Period, run) -> str:
        return f"{self.subtype}-{self.period_kind[0].upper()}-{period.compact}-{run.pk}"

    def file_name(self, *, period: Period, run) -> str:
        # REPORTS.md: <operator>_<store>_<type>_<subtype>_<D|M>_<date covered>_<batch>.xml
        frequency = "D" if self.period_kind == "day" else "M"
        return (
            f"{self.operator_id}_{self.store_id}_{self.register_type}_{self.subtype}_{frequency}_"
            f"{period.compact}_{self.batch_id(period=period, run=run)}.xml"
        )

    def validate(self, path: Path) -> None:
        validate_file(path)

    def player_ids(self, *, period: Period) -> Iterable[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def players(self, *, ids: list[int], period: Period, start: datetime, end: datetime) -> Iterator:  # pragma: no cover
        raise NotImplementedError

    def write(self, fh: BinaryIO, *, period: Period, run) -> int:
        start, end = period.bounds(self.time_zone)
        ids = self.player_ids(period=period)
        total = ids.count()
        subrecords = max(1, -(-total // SUBRECORD_PLAYERS))
        generated = run.started_at or clock.now()
        record_id = self.record_id(period=period, run=run)
        run.record_id = record_id
        rectifies = run.supersedes if run.supersedes_id and run.supersedes.record_id else None
        rows = 0
        with etree.xmlfile(fh, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(f"{{{NS}}}Lote", nsmap={None: NS, "xsi": XSI}):
                header = etree.Element(f"{{{NS}}}Cabecera", nsmap={None: NS})
                _e(header, "OperadorId", self.operator_id)
                _e(header, "AlmacenId", self.store_id)
                _e(header, "LoteId", self.batch_id(period=period, run=run))
                _e(header, "Version", VERSION)
                xf.write(header)
                chunks = _chunks(ids.iterator(chunk_size=SUBRECORD_PLAYERS), SUBRECORD_PLAYERS)
                for number in range(1, subrecords + 1):
                    chunk = next(chunks, [])
                    with xf.element(f"{{{NS}}}Registro", {f"{{{XSI}}}type": self.xsi_type}):
                        cabecera = etree.Element(f"{{{NS}}}Cabecera", nsmap={None: NS})
                        _e(cabecera, "RegistroId", record_id)
                        _e(cabecera, "SubregistroId", str(number))
                        _e(cabecera, "SubregistroTotal", str(subrecords))
                        _e(cabecera, "Fecha", fecha_hora_local(generated, self.time_zone))
                        if rectifies is not None:
                            # A correction resends the whole record and names the one it voids (REPORTS.md).
                            rectificacion = _e(cabecera, "Rectificacion")
                            _e(rectificacion, "RegistroId", rectifies.record_id)
                            _e(rectificacion, "RegistroFecha", fecha_hora_local(rectifies.started_at, self.time_zone))
                        xf.write(cabecera)
                        periodicity = etree.Element(f"{{{NS}}}Periodicidad", nsmap={None: NS})
                        periodicity.text = "Diaria" if self.period_kind == "day" else "Mensual"
                        xf.write(periodicity)
                        periodo = etree.Element(f"{{{NS}}}Periodo", nsmap={None: NS})
                        _e(periodo, "Dia" if self.period_kind == "day" else "Mes", period.compact)
                        xf.write(periodo)
                        if chunk:
                            for jugador in self.players(ids=chunk, period=period, start=start, end=end):
                                xf.write(jugador)
                                rows += 1
                    xf.flush()
        return rows


# --- RUD -------------------------------------------------------------------------------------------

# The regulator's status (REPORTS.md, RUD "status"). CD (deceased) needs a fact we do not hold yet: no
# deceased flag or closure reason exists, so a deceased player's closed account is reported C.
def estado_cnj(*, status: str, activated: bool, legally_barred: bool = False) -> str:
    """The EstadoCNJ of a player's status facts.

    PR ("prohibido"): the person is on the national register of access bans (RGIAJ, Ley 13/2011 arts. 6 and
    22, RD 1614/2011) and the operator barred the account for it (apps.players: `legally_barred_at`). Our
    status is then self_excluded, the same as a player who excluded themselves with us (AE), so the mark
    decides. It wins over every status but closed: an account still open for a barred person is PR whatever
    its status says, while a closed account is C (cancelled), as for any other closed account.
    """
    if status == PlayerStatus.CLOSED:
        return "C"
    if legally_barred:
        return "PR"
    if status == PlayerStatus.ACTIVE:
        return "A" if activated else "PV"
    return {PlayerStatus.SUSPENDED: "S", PlayerStatus.SELF_EXCLUDED: "AE"}.get(status, "O")


def _reported_status(row: dict) -> tuple[str, str]:
    """What the RUD's status history reports of one historical player row: EstadoCNJ and EstadoOperador. The
    history lists a row each time this changes (e.g. AE to PR when the register names a self-excluded player)."""
    code = estado_cnj(status=row["status"], activated=row["activated_at"] is not None, legally_barred=row["legally_barred_at"] is not None)
    return code, row["status"]


_LIMIT_TYPES = {LimitKind.DEPOSIT: "Deposito", LimitKind.WAGER: "Participacion", LimitKind.LOSS: "Gasto"}
# Our limits are rolling windows (apps.limits); the regulator's periods are day, Monday-Sunday week and
# calendar month. We report the window the player chose under the regulator's name for it.
_LIMIT_PERIODS = {LimitPeriod.DAY: "Diario", LimitPeriod.WEEK: "Semanal", LimitPeriod.MONTH: "Mensual"}
# KYC document kinds -> the schema's TipoVerificacionDocumental (DOC document, SLF selfie, DOM proof of address, ...).
_VERIFICATION_TYPES = {
    "passport": "DOC",
    "id_card": "DOC",
    "driving_licence": "DOC",
    "proof_of_address": "DOM",
    "selfie": "SLF",
}


# Our structured reasons -> the schema's MotivoEstado.
_STATUS_REASONS = {
    StatusReason.PLAYER_REQUEST: "PeticionJugador",
    StatusReason.INACTIVITY: "Inactividad",
    StatusReason.SAFER_GAMBLING: "JuegoSeguro",
    StatusReason.FRAUD_PAYMENT: "FraudeIdPagos",
    StatusReason.TERMS_BREACH: "TyC",
    StatusReason.OTHER: "Otros",
}


def _is_nie(number: str) -> bool:
    return number[:1] in ("X", "Y", "Z")


@register
class DgojRudDaily(DgojReport):
    code = "dgoj_rud_daily"
    period_kind = "day"
    subtype, register_type, xsi_type = "RUD", "RU", "RegistroRUD"
    description = "DGOJ RUD daily: players new or changed that day (XML v3.3)."

    def player_ids(self, *, period: Period):
        start, end = period.bounds(self.time_zone)
        return selectors.players_new_or_changed(start=start, end=end)

    def players(self, *, ids, period, start, end):
        players = selectors.players_for_registry(player_ids=ids)
        limits = selectors.limits_of(player_ids=ids, end=end)
        exclusions = selectors.exclusions_of(player_ids=ids, end=end)
        kyc = selectors.kyc_of(player_ids=ids)
        history = selectors.status_history(player_ids=ids, start=start, end=end, key=_reported_status)
        changed = set(selectors.players_new_or_changed(start=start, end=end).filter(pk__in=ids)) if self.period_kind == "month" else None
        for player in players:
            yield self.jugador(
                player, start=start, end=end, limits=limits.get(player.pk, []), exclusions=exclusions.get(player.pk, []),
                kyc=kyc.get(player.pk), history=history.get(player.pk, []),
                changed=True if changed is None else player.pk in changed,
            )

    def jugador(self, player, *, start, end, limits, exclusions, kyc, history, changed: bool):
        """One RegistroRUD/Jugador, in the schema's order (a sequence: order is validity)."""
        tz = self.time_zone
        user = player.user
        jugador = etree.Element(f"{{{NS}}}Jugador", nsmap={None: NS})
        _e(jugador, "JugadorId", str(player.public_id))
        # Activation is the first positive identity verification; a player still pending (PV) reports sign-up.
        _e(jugador, "FechaActivacion", fecha_hora_local(player.activated_at or player.created_at, tz))
        marker = "A" if player.created_at >= start else "S" if changed else "N"
        _e(jugador, "CambiosEnDatos", marker)
        _e(jugador, "RegionFiscal", self.fiscal_region)
        nationality = (player.nationality or player.country).upper()
        if player.country.upper() == "ES":
            # Resident: nationality and DNI or NIE (the schema's one Documento element holds either).
            residente = _e(jugador, "Residente")
            _e(residente, "Nacionalidad", nationality)
            _e(residente, "Documento", player.id_document_number.upper())
        else:
            residente = _e(jugador, "NoResidente")
            _e(residente, "Nacionalidad", nationality)
            _e(residente, "PaisResidencia", player.country.upper())
            _e(residente, "TipoDocumento", player.id_document_type or "OT")
            _e(residente, "Documento", player.id_document_number)
        _e(jugador, "FechaNacimiento", f"{player.date_of_birth:%Y%m%d}")
        _e(jugador, "Login", user.email)
        _e(jugador, "Nombre", user.first_name)
        _e(jugador, "Apellido1", user.last_name)
        if player.second_surname:
            _e(jugador, "Apellido2", player.second_surname)
        _e(jugador, "Email", user.email)
        _e(jugador, "EmailVerificado", si_no(player.email_verified))
        # The schema knows M and F only: a player who stated neither makes the file invalid (the run
        # fails and says which), rather than our guessing.
        _e(jugador, "Sexo", player.sex)
        domicilio = _e(jugador, "Domicilio")
        _e(domicilio, "Direccion", player.address_street)
        _e(domicilio, "Ciudad", player.address_city)
        _e(domicilio, "CP", player.address_postcode)
        _e(domicilio, "Pais", (player.address_country or player.country).upper())
        _e(jugador, "Telefono", player.phone)
        _e(jugador, "TelefonoVerificado", si_no(player.phone_verified))
        self._limites(jugador, player, limits)
        for exclusion in exclusions:
            item = _e(jugador, "Exclusion")
            if exclusion.permanent:
                # The schema has no unit for "indefinite": 0 months is how we say it (documented in README).
                length, unit = "0", "MES"
            else:
                length = str(exclusion.length or 0)
                unit = "MES" if exclusion.length_unit == "months" else "HORA"
            _e(item, "Cantidad", length)
            _e(item, "Unidad", unit)
            _e(item, "FechaActivacionExclusion", fecha_hora(exclusion.starts_at, tz))
            _e(item, "Autocontinuacion", "N")
            _e(item, "FechaSolicitudCambioExclusion", fecha_hora(exclusion.requested_at, tz))
        estado = _e(jugador, "Estado")
        current = estado_cnj(
            status=player.status, activated=player.activated_at is not None, legally_barred=player.legally_barred_at is not None
        )
        _e(estado, "EstadoCNJ", current)
        # Our own label, as is: a legally barred player is self_excluded with us; EstadoCNJ tells PR from AE.
        _e(estado, "EstadoOperador", player.status)
        if current in ("S", "C"):
            # Required when S or C; a row from before the reason code existed says "other".
            motivo = _e(estado, "Motivo")
            _e(motivo, "MotivoSC", _STATUS_REASONS.get(player.status_reason_code, "Otros"))
            _e(motivo, "DescripcionSC", (player.status_reason or player.get_status_display())[:1000])
        for code, status, since in self._historico(player, history):
            item = _e(estado, "Historico")
            _e(item, "EstadoCNJ", code)
            _e(item, "EstadoOperador", status)
            _e(item, "Desde", fecha_hora(since, tz))
        # No check against the national identity service (SVDI) is integrated yet.
        _e(jugador, "VSVDI", "N")
        documents = []
        if kyc is not None:
            case, documents = kyc
        _e(jugador, "VDocumental", si_no(bool(documents)))
        for document in documents:
            item = _e(jugador, "TipoVDocumental")
            tipo = _VERIFICATION_TYPES.get(document.kind, "OTR")
            _e(item, "Tipo", tipo)
            if tipo == "OTR":
                _e(item, "OtroEspecificar", document.kind[:50])
            _e(item, "FVDocumental", fecha_hora(case.approved_at or document.submitted_at or document.uploaded_at, tz))
        _e(jugador, "JugadorTest", si_no(player.is_test_player))
        if player.signup_ip:
            _e(jugador, "IP", player.signup_ip)
        if player.signup_device:
            _e(jugador, "Dispositivo", player.signup_device)
        if player.device_id:
            _e(jugador, "IdDispositivo", player.device_id)
        return jugador

    @staticmethod
    def _historico(player, history: list[dict]) -> list[tuple[str, str, datetime]]:
        """(EstadoCNJ, EstadoOperador, since) at each change of the reported status in the period, oldest first.

        Only the changes in the period; with none, the current status since it last changed (the schema: "si no
        hay cambios reportar el estado actual"). `history` holds the rows at which `_reported_status` changed.
        """
        if history:
            return [(*_reported_status(row), row["history_date"]) for row in history]
        code, status = _reported_status({"status": player.status, "activated_at": player.activated_at,
                                         "legally_barred_at": player.legally_barred_at})
        since = player.status_changed_at or player.created_at
        if code == "PR":
            # A bar on an already self-excluded player changes no status of ours: PR holds from the bar.
            since = max(since, player.legally_barred_at)
        elif code == "A" and player.activated_at is not None:
            since = max(since, player.activated_at)  # PV until the activation
        return [(code, status, since)]

    def _limite(self, jugador, *, kind: str, period: str, amount: str, activated, requested) -> None:
        tz = self.time_zone
        item = _e(jugador, "LimitesJugador")
        _e(item, "TipoLimite", kind)
        _e(item, "PeriodoLimite", period)
        _e(item, "Cantidad", amount)
        _e(item, "UnidadLimite", "EUR")
        _e(item, "FechaActivacionLimite", fecha_hora(activated, tz))
        _e(item, "FechaSolicitudCambioLimite", fecha_hora(requested, tz))

    def _limites(self, jugador, player, limits) -> None:
        seen = set()
        for limit in limits:
            # A removed limit (no amount in force) is -1 (REPORTS.md).
            amount = cantidad(limit.amount_minor, limit.currency) if limit.amount_minor is not None else "-1.00"
            self._limite(jugador, kind=_LIMIT_TYPES.get(limit.kind, "Deposito"), period=_LIMIT_PERIODS[limit.period], amount=amount,
                         activated=limit.activated_at or limit.requested_at, requested=limit.requested_at)
            seen.add((limit.kind, limit.period))
        # Deposit limits for all three periods are mandatory: a period the player never limited is -1.
        for period in (LimitPeriod.DAY, LimitPeriod.WEEK, LimitPeriod.MONTH):
            if (LimitKind.DEPOSIT, period) not in seen:
                self._limite(jugador, kind="Deposito", period=_LIMIT_PERIODS[period], amount="-1.00",
                             activated=player.created_at, requested=player.created_at)


@register
class DgojRudMonthly(DgojRudDaily):
    code = "dgoj_rud_monthly"
    period_kind = "month"
    description = "DGOJ RUD monthly: every registered player (XML v3.3)."

    def player_ids(self, *, period: Period):
        _, end = period.bounds(self.time_zone)
        return selectors.players_registered_before(end=end)


# --- CJD -------------------------------------------------------------------------------------------

# Which CJD block each ledger kind feeds (REPORTS.md, CJD). Withdrawal requests and their cancellation
# move money between cash and hold, both inside the gaming account: they net to zero and are reported
# as operations, not as movements. Anything not named here is reported under "Otros" by its kind.
_MOVEMENT_BLOCKS = {
    TransactionKind.DEPOSIT: "Depositos",
    TransactionKind.WITHDRAWAL_PAYOUT: "Retiradas",
    TransactionKind.BET: "Participacion",
    TransactionKind.ROLLBACK: "ParticipacionDevolucion",
    TransactionKind.WIN: "Premios",
}
_NETTING_KINDS = (TransactionKind.WITHDRAWAL, TransactionKind.WITHDRAWAL_REVERSAL)
_OTHER_CONCEPTS = {TransactionKind.ADJUSTMENT: "AjusteManual"}
# Payment method -> the regulator's method type (1 cash ... 15 instant payment, 99 other). The sandbox
# PSP is none of them; real PSP methods are added to settings.REPORTS_PAYMENT_METHOD_TYPES.
_DEFAULT_METHOD_TYPES = {"card": "4", "debit_card": "5", "bank_transfer": "3", "ewallet": "6", "instant": "15"}


def method_type(method: str) -> str:
    return {**_DEFAULT_METHOD_TYPES, **getattr(settings, "REPORTS_PAYMENT_METHOD_TYPES", {})}.get(method, "99")


class PlayerAccount:
    """One player's CJD figures for the period, in signed minor units per unit (currency)."""

    def __init__(self, player_id: int) -> None:
        self.player_id = player_id
        self.opening: dict[str, int] = defaultdict(int)
        self.blocks: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        self.operations: dict[str, list[dict]] = {"Depositos": [], "Retiradas": []}
        self.currencies: set[str] = set()

    def add(self, block: str, key: str, unit: str, minor: int) -> None:
        self.blocks[block][key][unit] += minor
        self.currencies.add(unit)

    def total(self, block: str) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for lines in self.blocks[block].values():
            for unit, minor in lines.items():
                totals[unit] += minor
        return dict(totals)

    @property
    def closing(self) -> dict[str, int]:
        """Opening plus every movement (the regulator's balance rule): each block's signed ledger sum."""
        closing = defaultdict(int, self.opening)
        for block in self.blocks:
            for unit, minor in self.total(block).items():
                closing[unit] += minor
        return dict(closing)


def cjd_accounts(*, ids: list[int], start: datetime, end: datetime) -> dict[int, PlayerAccount]:
    """The CJD figures of a chunk of players: three grouped queries, whatever the number of entries."""
    accounts = {player_id: PlayerAccount(player_id) for player_id in ids}
    for (player_id, unit), minor in selectors.wallet_balances_before(player_ids=ids, moment=start).items():
        accounts[player_id].opening[unit] += minor
        accounts[player_id].currencies.add(unit)
    for row in selectors.wallet_movements(player_ids=ids, start=start, end=end):
        account = accounts[row["account__player_id"]]
        unit, minor, kind = row["account__currency"], int(row["total"]), row["kind"]
        if kind in _NETTING_KINDS:
            account.add("Otros", "__netting__", unit, minor)  # zero by construction; kept so the rule stays exact
            continue
        block = _MOVEMENT_BLOCKS.get(kind)
        if block in ("Participacion", "ParticipacionDevolucion", "Premios"):
            account.add(block, selectors.game_type_of(game_type=row["game_type"], game=row["game"]), unit, minor)
        elif block is not None:
            account.add(block, "total", unit, minor)
        else:
            account.add("Otros", _OTHER_CONCEPTS.get(kind, kind), unit, minor)
    return accounts


def _operation(payment, *, at, unit: str, minor: int, method: str, result: str) -> dict:
    """One deposit or withdrawal line with what the payment row recorded about it (none for a bare ledger posting)."""
    return {
        "at": at, "unit": unit, "minor": minor, "method": method, "result": result,
        "ip": getattr(payment, "ip_address", None),
        "device": getattr(payment, "device", ""),

        "last4": getattr(payment, "card_last4", ""),
        "holder_verified": getattr(payment, "holder_verified", False),
    }


def _operations_for(ids: list[int], start: datetime, end: datetime, accounts: dict[int, PlayerAccount]) -> None:
    for entry in selectors.money_operations(player_ids=ids, start=start, end=end):
        payment = entry["payment"]
        block = "Depositos" if entry["kind"] == TransactionKind.DEPOSIT else "Retiradas"
        accounts[entry["account__player_id"]].operations[block].append(
            _operation(
                payment, at=entry["created_at"], unit=entry["account__currency"], minor=abs(int(entry["amount"])),
                method=getattr(payment, "method", "") or "psp", result="OK",
            )
        )
    for deposit in selectors.cancelled_deposits(player_ids=ids, start=start, end=end):
        accounts[deposit.player_id].operations["Depositos"].append(
            _operation(
                deposit, at=deposit.updated_at, unit=deposit.currency, minor=deposit.amount_minor, method=deposit.method, result="CM"
            )
        )
    for withdrawal in selectors.cancelled_withdrawals(player_ids=ids, start=start, end=end):
        by_player = withdrawal.status == "cancelled"
        accounts[withdrawal.player_id].operations["Retiradas"].append(
            _operation(
                withdrawal, at=withdrawal.cancelled_at if by_player else withdrawal.reviewed_at, unit=withdrawal.currency,
                minor=withdrawal.amount_minor, method="psp", result="CU" if by_player else "CO",
            )
        )


@register
class DgojCjdDaily(DgojReport):
    code = "dgoj_cjd_daily"
    period_kind = "day"
    subtype, register_type, xsi_type = "CJD", "CJ", "RegistroCJD"
    description = "DGOJ CJD daily: gaming accounts with movement that day (XML v3.3)."

    def player_ids(self, *, period: Period):
        start, end = period.bounds(self.time_zone)
        return selectors.players_with_movement(start=start, end=end)

    def players(self, *, ids, period, start, end):
        accounts = cjd_accounts(ids=ids, start=start, end=end)
        _operations_for(ids, start, end, accounts)
        public_ids = dict(selectors.players_for_registry_ids(player_ids=ids))
        device_ids = selectors.player_device_ids(player_ids=ids)
        for player_id in ids:
            yield self.jugador(accounts[player_id], public_id=str(public_ids[player_id]), device_id=device_ids.get(player_id, ""))

    def jugador(self, account: PlayerAccount, *, public_id: str, device_id: str = ""):
        tz = self.time_zone
        unit = sorted(account.currencies)[0] if account.currencies else "EUR"
        zero = {unit: 0}
        jugador = etree.Element(f"{{{NS}}}Jugador", nsmap={None: NS})
        _e(jugador, "JugadorId", public_id)
        _importe(jugador, "SaldoInicial", dict(account.opening) or zero)
        for block in ("Depositos", "Retiradas"):
            element = _e(jugador, block)
            # A plain euro total (withdrawals positive: the sign is the block's), then every operation.
            _e(element, "Total", cantidad(abs(account.total(block).get(unit, 0)), unit))
            for op in sorted(account.operations[block], key=lambda o: o["at"]):
                item = _e(element, "Operaciones")
                _e(item, "Fecha", fecha_hora(op["at"], tz))
                _e(item, "Importe", cantidad(op["minor"], op["unit"]))
                _e(item, "MedioPago", op["method"])
                code = method_type(op["method"])
                _e(item, "TipoMedioPago", code)
                if code == "99":
                    _e(item, "OtroTipoEspecificar", op["method"][:100])
                _e(item, "TitularidadVerificada", si_no(op["holder_verified"]))
                _e(item, "ResultadoOperacion", op["result"])
                # IP, device class and device id are required: what we did not capture is sent empty
                # (IP, device id) or OT (device class), never invented.
                _e(item, "IP", str(op["ip"] or ""))
                _e(item, "Dispositivo", op["device"] or "OT")
                # The device id is the one the player registered with: operations do not record their own yet.
                _e(item, "IdDispositivo", device_id[:100])
                if op["last4"]:
                    _e(item, "UltimosDigitosMedioPago", op["last4"])
        for block in ("Participacion", "ParticipacionDevolucion", "Premios", "AjustePremios"):
            element = _e(jugador, block)
            total = {u: abs(m) for u, m in account.total(block).items()}
            _importe(element, "Total", total or zero)
            for game_type, lines in sorted(account.blocks[block].items()):
                item = _e(element, "Desglose")
                _e(item, "TipoJuego", game_type)
                _importe(item, "Importe", {u: abs(m) for u, m in lines.items()})
        for block in ("Trans_IN", "Trans_OUT"):
            _importe(_e(jugador, block), "Total", zero)  # no transfers between operators
        otros = _e(jugador, "Otros")
        _importe(otros, "Total", account.total("Otros") or zero)
        for concept, lines in sorted(account.blocks["Otros"].items()):
            if concept == "__netting__":
                continue
            item = _e(otros, "Desglose")
            _e(item, "Concepto", concept)
            _importe(item, "Importe", dict(lines))
        closing = account.closing or zero
        _importe(jugador, "SaldoFinal", closing)
        for currency, minor in sorted(closing.items()):
            cuentas = _e(jugador, "Cuentas")
            _e(cuentas, "Cuenta", f"{public_id[:45]}-{currency}")
            _importe(cuentas, "SaldoFinal", {currency: minor})
        _importe(_e(jugador, "Comision"), "Total", zero)
        _importe(_e(jugador, "Bonos"), "Total", zero)  # no bonus engine yet
        return jugador


@register
class DgojCjdMonthly(DgojCjdDaily):
    code = "dgoj_cjd_monthly"
    period_kind = "month"
    description = "DGOJ CJD monthly: every gaming account (XML v3.3)."

    def player_ids(self, *, period: Period):
        _, end = period.bounds(self.time_zone)
        return selectors.players_registered_before(end=end)
