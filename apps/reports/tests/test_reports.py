"""Every report type for the seeded days, checked field by field, plus the balance rule across two days."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from apps.ledger.models import AccountKind, Entry

from .conftest import DAY1, DAY2, MADRID, at, run_report

NS = {"d": "http://cnjuego.gob.es/sci/v3.3.xsd"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _csv(run) -> list[dict]:
    with Path(run.file.path).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _xml(run):
    return etree.parse(run.file.path).getroot()


def _amount(element, path: str) -> Decimal:
    """The EUR line of an Importe, or a plain euro amount (deposit and withdrawal totals and operations)."""
    lines = element.findall(f"{path}/d:Linea", NS)
    if not lines:
        return Decimal(element.findtext(path, namespaces=NS))
    assert [line.findtext("d:Unidad", namespaces=NS) for line in lines] == ["EUR"]
    return Decimal(lines[0].findtext("d:Cantidad", namespaces=NS))


def _jugador(root, public_id) -> etree._Element:
    (found,) = [j for j in root.iterfind(".//d:Jugador", NS) if j.findtext("d:JugadorId", namespaces=NS) == str(public_id)]
    return found


def _wallet_at(player, moment) -> Decimal:
    total = sum(
        Entry.objects.filter(
            account__player=player, account__kind__in=[AccountKind.PLAYER_CASH, AccountKind.PLAYER_HOLD], created_at__lt=moment
        ).values_list("amount", flat=True)
    )
    return Decimal(total) / 100


def test_ledger_journal_lists_every_entry_of_the_madrid_day(world):
    run = run_report("ledger_journal_daily", DAY1.isoformat())
    assert run.status == "done", run.error
    rows = _csv(run)
    start, end = at(DAY1, 0), at(DAY2, 0)
    assert len(rows) == run.rows == Entry.objects.filter(created_at__gte=start, created_at__lt=end).count() == 24
    adjustment = [r for r in rows if r["kind"] == "adjustment" and r["account_kind"] == "player_cash"]
    assert adjustment == [
        {
            **adjustment[0],
            "reason": "goodwill",
            "player_id": str(world.alice.pk),
            "currency": "EUR",
            "amount": "5.00",
            "balance_after": "120.00",
            "created_by_id": str(world.officer.pk),
        }
    ]
    # The deposit at 00:30 Madrid on day 2 (23:30 UTC on day 1) belongs to day 2.
    assert "50.00" not in {r["amount"] for r in rows}
    # Every transaction balances.
    by_tx: dict[str, int] = {}
    for r in rows:
        by_tx[r["transaction_id"]] = by_tx.get(r["transaction_id"], 0) + int(Decimal(r["amount"]) * 100)
    assert set(by_tx.values()) == {0}


def test_ggr_daily_per_game_with_the_spanish_tax(world):
    run = run_report("ggr_daily", DAY1.isoformat())
    assert run.status == "done", run.error
    assert _csv(run) == [
        {
            "date": "2026-11-10",
            "game": "roulette-eu",
            "currency": "EUR",
            "stakes": "120.00",
            "rollbacks": "0.00",
            "wins": "35.00",
            "ggr": "85.00",
            "tax_rate": "0.20",
            "tax": "17.00",
            "bets": "2",
        },
        {
            "date": "2026-11-10",
            "game": "starburst",
            "currency": "EUR",
            "stakes": "10.00",
            "rollbacks": "10.00",
            "wins": "0.00",
            "ggr": "0.00",
            "tax_rate": "0.20",
            "tax": "0.00",
            "bets": "1",
        },
    ]


def test_ggr_tax_rate_comes_from_the_market_that_files_it(world):
    from apps.markets.models import Market
    from apps.markets.selectors import clear_policy_cache

    (market,) = [m for m in Market.objects.all() if "ggr_daily" in m.reports]
    market.gaming_tax_rate = Decimal("0.25")
    market.save()  # as the admin does: with history, and the policy cache is cleared on save
    assert market.history.first().gaming_tax_rate == Decimal("0.25")
    clear_policy_cache()
    rows = _csv(run_report("ggr_daily", DAY1.isoformat()))
    assert [(r["tax_rate"], r["tax"]) for r in rows] == [("0.25", "21.25"), ("0.25", "0.00")]


def test_ukgc_quarterly_return(world):
    run = run_report("ukgc_quarterly", "2026-Q4")
    assert run.status == "done", run.error
    assert _csv(run) == [
        {
            "quarter": "2026-Q4",
            "currency": "EUR",
            "active_accounts": "2",
            "registrations": "2",
            "customer_funds_at_quarter_end": "230.00",
            "ggr": "100.00",
            "self_exclusions_started": "1",
            "complaints": "",
        }
    ]


def test_cjd_daily_field_by_field(world):
    run = run_report("dgoj_cjd_daily", DAY1.isoformat())
    assert run.status == "done", run.error
    assert run.file_name == f"OP01_ALM01_CJ_CJD_D_20261110_CJD20261110R{run.pk}.xml"
    root = _xml(run)
    (registro,) = root.findall("d:Registro", NS)
    assert registro.get(XSI_TYPE) == "RegistroCJD"
    assert registro.findtext("d:Periodicidad", namespaces=NS) == "Diaria"
    assert registro.findtext("d:Periodo/d:Dia", namespaces=NS) == "20261110"
    assert registro.find("d:Cabecera/d:Rectificacion", NS) is None
    alice = _jugador(root, world.alice.public_id)
    assert _amount(alice, "d:SaldoInicial") == 0
    assert _amount(alice, "d:Depositos/d:Total") == Decimal("100.00")
    ops = [
        (o.findtext("d:ResultadoOperacion", namespaces=NS), _amount(o, "d:Importe"))
        for o in alice.iterfind("d:Depositos/d:Operaciones", NS)
    ]
    assert ops == [("OK", Decimal("100.00")), ("CM", Decimal("30.00"))]
    first = alice.find("d:Depositos/d:Operaciones", NS)
    fields = ("Fecha", "MedioPago", "TipoMedioPago", "OtroTipoEspecificar", "TitularidadVerificada", "IP", "Dispositivo",
              "IdDispositivo", "UltimosDigitosMedioPago")
    assert [first.findtext(f"d:{f}", namespaces=NS) for f in fields] == [
        "20261110100000+0100", "sandbox_async", "99", "sandbox_async", "S", "192.0.2.11", "MO", "dev-1", "4242"
    ]
    # The regulator's element order (the schema's sequence), not just the names.
    assert [etree.QName(child).localname for child in first] == [
        "Fecha", "Importe", "MedioPago", "TipoMedioPago", "OtroTipoEspecificar", "TitularidadVerificada", "ResultadoOperacion",
        "IP", "Dispositivo", "IdDispositivo", "UltimosDigitosMedioPago",
    ]
    ops = [
        (o.findtext("d:ResultadoOperacion", namespaces=NS), _amount(o, "d:Importe"))
        for o in alice.iterfind("d:Retiradas/d:Operaciones", NS)
    ]
    assert ops == [("OK", Decimal("25.00")), ("CU", Decimal("40.00"))]
    assert _amount(alice, "d:Retiradas/d:Total") == Decimal("25.00")
    stakes = {d.findtext("d:TipoJuego", namespaces=NS): _amount(d, "d:Importe") for d in alice.iterfind("d:Participacion/d:Desglose", NS)}
    assert stakes == {"AZA": Decimal("10.00"), "RLT": Decimal("20.00")}
    assert _amount(alice, "d:Participacion/d:Total") == Decimal("30.00")
    assert _amount(alice, "d:ParticipacionDevolucion/d:Total") == Decimal("10.00")
    assert _amount(alice, "d:Premios/d:Total") == Decimal("35.00")
    assert [d.findtext("d:Concepto", namespaces=NS) for d in alice.iterfind("d:Otros/d:Desglose", NS)] == ["AjusteManual"]
    assert _amount(alice, "d:Otros/d:Total") == Decimal("5.00")
    assert _amount(alice, "d:SaldoFinal") == Decimal("95.00")
    assert _amount(alice, "d:Cuentas/d:SaldoFinal") == Decimal("95.00")
    bruno = _jugador(root, world.bruno.public_id)
    assert _amount(bruno, "d:SaldoFinal") == Decimal("100.00")
    assert run.rows == 2


BLOCKS_PLUS = ("Depositos", "ParticipacionDevolucion", "Premios", "AjustePremios", "Trans_IN")
BLOCKS_MINUS = ("Retiradas", "Participacion", "Trans_OUT")


def _check_balance_rule(jugador) -> tuple[Decimal, Decimal]:
    opening = _amount(jugador, "d:SaldoInicial")
    closing = _amount(jugador, "d:SaldoFinal")
    movements = sum(_amount(jugador, f"d:{b}/d:Total") for b in BLOCKS_PLUS) - sum(_amount(jugador, f"d:{b}/d:Total") for b in BLOCKS_MINUS)
    movements += _amount(jugador, "d:Otros/d:Total")
    assert closing == opening + movements
    # Every total equals the sum of its breakdown.
    for block in ("Participacion", "ParticipacionDevolucion", "Premios", "Otros"):
        parts = [_amount(d, "d:Importe") for d in jugador.iterfind(f"d:{block}/d:Desglose", NS)]
        assert _amount(jugador, f"d:{block}/d:Total") == sum(parts, Decimal(0))
    for block in ("Depositos", "Retiradas"):
        ok = [
            _amount(o, "d:Importe")
            for o in jugador.iterfind(f"d:{block}/d:Operaciones", NS)
            if o.findtext("d:ResultadoOperacion", namespaces=NS) == "OK"
        ]
        assert _amount(jugador, f"d:{block}/d:Total") == sum(ok, Decimal(0))
    return opening, closing


def test_balance_rule_across_two_consecutive_days(world):
    day1 = _xml(run_report("dgoj_cjd_daily", DAY1.isoformat()))
    day2 = _xml(run_report("dgoj_cjd_daily", DAY2.isoformat()))
    for player in (world.alice, world.bruno):
        _, closing1 = _check_balance_rule(_jugador(day1, player.public_id))
        assert closing1 == _wallet_at(player, at(DAY2, 0))
    opening2, closing2 = _check_balance_rule(_jugador(day2, world.alice.public_id))
    assert opening2 == Decimal("95.00")  # yesterday's closing
    assert closing2 == _wallet_at(world.alice, at(DAY2, 0).replace(day=12)) == Decimal("130.00")
    ops = [
        o.findtext("d:ResultadoOperacion", namespaces=NS)
        for o in _jugador(day2, world.alice.public_id).iterfind("d:Retiradas/d:Operaciones", NS)
    ]
    assert ops == ["CO"]
    # Bruno did not move on day 2: daily CJD holds only accounts with movement.
    assert [j.findtext("d:JugadorId", namespaces=NS) for j in day2.iterfind(".//d:Jugador", NS)] == [str(world.alice.public_id)]


def test_cjd_monthly_holds_every_account_and_the_rule(world):
    run = run_report("dgoj_cjd_monthly", "2026-11")
    assert run.status == "done", run.error
    assert run.file_name.startswith("OP01_ALM01_CJ_CJD_M_202611_")
    root = _xml(run)
    assert root.findtext("d:Registro/d:Periodo/d:Mes", namespaces=NS) == "202611"
    for player in (world.alice, world.bruno):
        _, closing = _check_balance_rule(_jugador(root, player.public_id))
        assert closing == _wallet_at(player, at(DAY2, 0).replace(month=12, day=1))


def test_rud_daily_field_by_field(world):
    run = run_report("dgoj_rud_daily", DAY1.isoformat())
    assert run.status == "done", run.error
    assert run.file_name == f"OP01_ALM01_RU_RUD_D_20261110_RUD20261110R{run.pk}.xml"
    root = _xml(run)
    assert root.find("d:Registro", NS).get(XSI_TYPE) == "RegistroRUD"
    alice = _jugador(root, world.alice.public_id)
    text = lambda path: alice.findtext(path, namespaces=NS)  # noqa: E731
    assert text("d:CambiosEnDatos") == "A"
    assert text("d:FechaActivacion") == "20261110090000"  # Madrid time; the schema's activation takes no offset
    assert text("d:RegionFiscal") == "01"
    assert (text("d:Residente/d:Nacionalidad"), text("d:Residente/d:Documento")) == ("ES", "12345678Z")
    assert (text("d:Nombre"), text("d:Apellido1"), text("d:Apellido2"), text("d:Sexo")) == ("Alicia", "López", "García", "F")
    assert (text("d:FechaNacimiento"), text("d:Login"), text("d:EmailVerificado"), text("d:TelefonoVerificado")) == (
        "19850314",
        "alice@example.es",
        "S",
        "S",
    )
    assert (text("d:Domicilio/d:CP"), text("d:Domicilio/d:Pais")) == ("28013", "ES")
    limits = [
        (lim.findtext("d:TipoLimite", namespaces=NS), lim.findtext("d:PeriodoLimite", namespaces=NS), _amount(lim, "d:Cantidad"))
        for lim in alice.iterfind("d:LimitesJugador", NS)
    ]
    # DGOJ players have the mandatory deposit limits from registration (apps.markets, dgoj): the week and
    # month ones at the rule's 1,500 / 3,000 EUR, the day one at the 500 Alicia chose lower.
    assert sorted(limits) == sorted([
        ("Deposito", "Diario", Decimal("500.00")),
        ("Gasto", "Semanal", Decimal("200.00")),  # our loss limit is the regulator's spend limit
        ("Deposito", "Semanal", Decimal("1500.00")),
        ("Deposito", "Mensual", Decimal("3000.00")),
    ])
    assert text("d:Estado/d:EstadoCNJ") == "A"
    assert (text("d:IP"), text("d:Dispositivo")) == ("192.0.2.10", "MO")
    bruno = _jugador(root, world.bruno.public_id)
    assert bruno.findtext("d:Residente/d:Documento", namespaces=NS) == "X1234567L"
    assert bruno.findtext("d:Estado/d:EstadoCNJ", namespaces=NS) == "AE"
    assert bruno.findtext("d:Estado/d:EstadoOperador", namespaces=NS) == "self_excluded"
    (exclusion,) = bruno.findall("d:Exclusion", NS)
    assert (exclusion.findtext("d:Cantidad", namespaces=NS), exclusion.findtext("d:Unidad", namespaces=NS)) == ("6", "MES")
    assert [h.findtext("d:EstadoCNJ", namespaces=NS) for h in bruno.iterfind("d:Estado/d:Historico", NS)] == ["PV", "AE"]


def test_rud_daily_next_day_holds_only_changed_players_and_monthly_holds_all(world):
    import time_machine

    from apps.players.services import player_suspend

    with time_machine.travel(at(DAY2, 18), tick=False):
        player_suspend(player=world.alice, actor=world.officer, reason="fraud check", reason_code="fraud_payment")
    root = _xml(run_report("dgoj_rud_daily", DAY2.isoformat()))
    (alice,) = root.findall(".//d:Jugador", NS)
    assert alice.findtext("d:JugadorId", namespaces=NS) == str(world.alice.public_id)
    assert alice.findtext("d:CambiosEnDatos", namespaces=NS) == "S"
    assert alice.findtext("d:Estado/d:EstadoCNJ", namespaces=NS) == "S"
    assert alice.findtext("d:Estado/d:Motivo/d:MotivoSC", namespaces=NS) == "FraudeIdPagos"
    assert alice.findtext("d:Estado/d:Motivo/d:DescripcionSC", namespaces=NS) == "fraud check"
    monthly = _xml(run_report("dgoj_rud_monthly", "2026-11"))
    assert len(monthly.findall(".//d:Jugador", NS)) == 2


def test_players_over_the_subrecord_size_split_into_subrecords(world, monkeypatch):
    from apps.reports import dgoj

    monkeypatch.setattr(dgoj, "SUBRECORD_PLAYERS", 1)
    run = run_report("dgoj_cjd_daily", DAY1.isoformat())
    assert run.status == "done", run.error
    registros = _xml(run).findall("d:Registro", NS)
    headers = [
        (
            r.findtext("d:Cabecera/d:RegistroId", namespaces=NS),
            r.findtext("d:Cabecera/d:SubregistroId", namespaces=NS),
            r.findtext("d:Cabecera/d:SubregistroTotal", namespaces=NS),
        )
        for r in registros
    ]
    assert headers == [(run.record_id, "1", "2"), (run.record_id, "2", "2")]
    assert [len(r.findall("d:Jugador", NS)) for r in registros] == [1, 1]


def test_period_bounds_follow_madrid_time_including_dst():
    from apps.reports.registry import parse_period

    start, end = parse_period("day", "2026-10-25").bounds("Europe/Madrid")
    assert (end - start).total_seconds() == 25 * 3600  # the autumn clock change
    assert start.astimezone(MADRID).hour == 0
    assert parse_period("quarter", "2026-Q4").label == "2026-Q4"
    with pytest.raises(ValueError):
        parse_period("day", "2026-13-01")


def test_rud_reports_the_documentary_verification_and_activation_from_kyc(world):
    import time_machine

    from apps.kyc.services import kyc_approve, kyc_document_upload, kyc_start_review, kyc_submit
    from apps.kyc.tests.samples import a_file, valid_until

    with time_machine.travel(at(DAY2, 10), tick=False):
        kyc_document_upload(player=world.bruno, kind="passport", uploaded_file=a_file(), expires_on=valid_until())
        case = kyc_submit(player=world.bruno)
        case = kyc_start_review(case=case, officer=world.officer)
        kyc_approve(case=case, officer=world.officer)
    root = _xml(run_report("dgoj_rud_daily", DAY2.isoformat()))
    bruno = _jugador(root, world.bruno.public_id)
    assert bruno.findtext("d:CambiosEnDatos", namespaces=NS) == "S"
    assert bruno.findtext("d:FechaActivacion", namespaces=NS) == "20261111100000"
    assert bruno.findtext("d:VDocumental", namespaces=NS) == "S"
    (verification,) = bruno.findall("d:TipoVDocumental", NS)
    assert verification.findtext("d:Tipo", namespaces=NS) == "DOC"
    assert verification.findtext("d:FVDocumental", namespaces=NS) == "20261111100000+0100"
    assert bruno.findtext("d:VSVDI", namespaces=NS) == "N"  # no check against the national identity service yet
