"""Read queries the reports need, over the lower layers' tables (read only: reports write only their own models).

Every money figure is a sum of ledger entries (ARCHITECTURE.md: the ledger is the source of truth);
payments, players, KYC and limits add the descriptive detail the regulators ask for. Queries stream
with iterator() or work on one chunk of players at a time, so memory does not grow with the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform

from apps.kyc.models import KycCase, KycDocument
from apps.ledger.models import AccountKind, Entry, LedgerTransaction, TransactionKind
from apps.limits.models import Exclusion, ExclusionKind, Limit
from apps.payments.models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from apps.players.models import Player

from .models import ReportRun, RunStatus

# The player's gaming account in the regulator's sense: cash plus money held for a withdrawal that is
# not paid yet (it is still the player's). A withdrawal request and its cancellation only move money
# between the two, so they net to zero here; the payout is the withdrawal the CJD reports.
WALLET_KINDS = (AccountKind.PLAYER_CASH, AccountKind.PLAYER_HOLD)
GAME_KINDS = (TransactionKind.BET, TransactionKind.WIN, TransactionKind.ROLLBACK)


def journal_entries(*, start: datetime, end: datetime) -> Iterator[Entry]:
    """Every entry posted in [start, end) with its transaction and account, in posting order."""
    return (
        Entry.objects.filter(created_at__gte=start, created_at__lt=end)
        .select_related("transaction", "account")
        .order_by("transaction_id", "id")
        .iterator(chunk_size=2000)
    )


def game_of(metadata_game: str | None) -> str:
    return metadata_game or "unknown"


def game_type_of(*, game_type: str | None, game: str | None) -> str:
    """The regulator's game type code of a stake, win or rollback.

    Seam until apps.games lands: the posting's metadata may carry `game_type` (a DGOJ code) or a game
    `game` slug mapped by settings.REPORTS_GAME_TYPES; anything else is reported as slots (AZA).
    """
    if game_type:
        return game_type
    mapping = getattr(settings, "REPORTS_GAME_TYPES", {})
    return mapping.get(game or "", getattr(settings, "REPORTS_DEFAULT_GAME_TYPE", "AZA"))


def game_totals(*, start: datetime, end: datetime) -> QuerySet:
    """Per game and currency: the signed sums of player-cash entries of stakes, wins and rollbacks."""
    return (
        Entry.objects.filter(
            created_at__gte=start, created_at__lt=end, kind__in=GAME_KINDS, account__kind=AccountKind.PLAYER_CASH
        )
        .annotate(game=KeyTextTransform("game", "transaction__metadata"))
        .values("game", "account__currency", "kind")
        .annotate(total=Sum("amount"), count=Count("id"))
        .order_by("game", "account__currency", "kind")
    )


def wallet_balances_before(*, player_ids: Iterable[int], moment: datetime) -> dict[tuple[int, str], int]:
    """(player, currency) -> the gaming-account balance just before `moment`, as a sum of entries."""
    rows = (
        Entry.objects.filter(account__player_id__in=list(player_ids), account__kind__in=WALLET_KINDS, created_at__lt=moment)
        .values("account__player_id", "account__currency")
        .annotate(total=Sum("amount"))
    )
    return {(r["account__player_id"], r["account__currency"]): int(r["total"]) for r in rows}


def wallet_movements(*, player_ids: Iterable[int], start: datetime, end: datetime) -> list[dict]:
    """Grouped signed sums of the players' gaming-account entries in the period, by kind and game."""
    return list(
        Entry.objects.filter(
            account__player_id__in=list(player_ids), account__kind__in=WALLET_KINDS, created_at__gte=start, created_at__lt=end
        )
        .annotate(
            game=KeyTextTransform("game", "transaction__metadata"),
            game_type=KeyTextTransform("game_type", "transaction__metadata"),
        )
        .values("account__player_id", "account__currency", "kind", "game", "game_type")
        .annotate(total=Sum("amount"))
        .order_by("account__player_id", "kind", "game", "game_type")
    )


def money_operations(*, player_ids: Iterable[int], start: datetime, end: datetime) -> list[dict]:
    """Deposits credited and withdrawals paid in the period (from the ledger), with their payment rows."""
    ids = list(player_ids)
    entries = (
        Entry.objects.filter(
            account__player_id__in=ids,
            account__kind__in=WALLET_KINDS,
            kind__in=(TransactionKind.DEPOSIT, TransactionKind.WITHDRAWAL_PAYOUT),
            created_at__gte=start,
            created_at__lt=end,
        )
        .values("account__player_id", "account__currency", "kind", "amount", "created_at", "transaction_id")
        .order_by("created_at", "id")
    )
    entries = list(entries)
    tx_ids = [e["transaction_id"] for e in entries]
    deposits = {d.ledger_transaction_id: d for d in Deposit.objects.filter(ledger_transaction_id__in=tx_ids)}
    withdrawals = {w.settlement_transaction_id: w for w in Withdrawal.objects.filter(settlement_transaction_id__in=tx_ids)}
    for e in entries:
        e["payment"] = deposits.get(e["transaction_id"]) or withdrawals.get(e["transaction_id"])
    return entries


def cancelled_deposits(*, player_ids: Iterable[int], start: datetime, end: datetime) -> QuerySet[Deposit]:
    """Deposits the PSP refused in the period: reported with their result, no money moved."""
    return Deposit.objects.filter(
        player_id__in=list(player_ids), status=DepositStatus.FAILED, updated_at__gte=start, updated_at__lt=end
    ).order_by("updated_at", "id")


def cancelled_withdrawals(*, player_ids: Iterable[int], start: datetime, end: datetime) -> QuerySet[Withdrawal]:
    """Withdrawals cancelled by the player or rejected by the operator in the period."""
    return Withdrawal.objects.filter(
        Q(status=WithdrawalStatus.CANCELLED, cancelled_at__gte=start, cancelled_at__lt=end)
        | Q(status=WithdrawalStatus.REJECTED, reviewed_at__gte=start, reviewed_at__lt=end),
        player_id__in=list(player_ids),
    ).order_by("id")


def players_with_movement(*, start: datetime, end: datetime) -> QuerySet:
    """Ids of players whose gaming account moved, or who had a payment cancelled, in the period."""
    moved = Entry.objects.filter(
        account__player__isnull=False, account__kind__in=WALLET_KINDS, created_at__gte=start, created_at__lt=end
    ).values("account__player_id")
    failed = Deposit.objects.filter(status=DepositStatus.FAILED, updated_at__gte=start, updated_at__lt=end).values("player_id")
    cancelled = Withdrawal.objects.filter(
        Q(status=WithdrawalStatus.CANCELLED, cancelled_at__gte=start, cancelled_at__lt=end)
        | Q(status=WithdrawalStatus.REJECTED, reviewed_at__gte=start, reviewed_at__lt=end)
    ).values("player_id")
    return (
        Player.objects.filter(Q(pk__in=moved) | Q(pk__in=failed) | Q(pk__in=cancelled)).order_by("pk").values_list("pk", flat=True)
    )


def players_registered_before(*, end: datetime) -> QuerySet:
    return Player.objects.filter(created_at__lt=end).order_by("pk").values_list("pk", flat=True)


def players_new_or_changed(*, start: datetime, end: datetime) -> QuerySet:
    """Daily RUD: players registered or whose registry data, status, KYC, limits or exclusions changed."""
    changed = Player.history.filter(history_date__gte=start, history_date__lt=end).values("id")
    kyc = KycCase.history.filter(history_date__gte=start, history_date__lt=end).values("player_id")
    limits = Limit.history.filter(history_date__gte=start, history_date__lt=end).values("player_id")
    exclusions = Exclusion.history.filter(history_date__gte=start, history_date__lt=end).values("player_id")
    return (
        Player.objects.filter(created_at__lt=end)
        .filter(
            Q(created_at__gte=start) | Q(pk__in=changed) | Q(pk__in=kyc) | Q(pk__in=limits) | Q(pk__in=exclusions)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def players_for_registry(*, player_ids: Iterable[int]) -> list[Player]:
    return list(Player.objects.filter(pk__in=list(player_ids)).select_related("user").order_by("pk"))


def status_history(*, player_ids: Iterable[int], start: datetime, end: datetime) -> dict[int, list]:
    """Each player's status as it was at every change in the period (historical Player rows), oldest first."""
    history: dict[int, list] = defaultdict(list)
    rows = (
        Player.history.filter(id__in=list(player_ids), history_date__gte=start, history_date__lt=end)
        .order_by("id", "history_date", "history_id")
        .values("id", "status", "activated_at", "history_date")
    )
    for row in rows:
        entries = history[row["id"]]
        if not entries or entries[-1]["status"] != row["status"]:
            entries.append(row)
    return history


def limits_of(*, player_ids: Iterable[int], end: datetime) -> dict[int, list[Limit]]:
    found: dict[int, list[Limit]] = defaultdict(list)
    for limit in Limit.objects.filter(player_id__in=list(player_ids), requested_at__lt=end).order_by("player_id", "kind", "period"):
        found[limit.player_id].append(limit)
    return found


def exclusions_of(*, player_ids: Iterable[int], end: datetime) -> dict[int, list[Exclusion]]:
    found: dict[int, list[Exclusion]] = defaultdict(list)
    exclusions = Exclusion.objects.filter(player_id__in=list(player_ids), requested_at__lt=end)
    for exclusion in exclusions.order_by("player_id", "starts_at", "id"):
        found[exclusion.player_id].append(exclusion)
    return found


def kyc_of(*, player_ids: Iterable[int]) -> dict[int, tuple[KycCase, list[KycDocument]]]:
    cases = {c.player_id: c for c in KycCase.objects.filter(player_id__in=list(player_ids))}
    docs: dict[int, list[KycDocument]] = defaultdict(list)
    for document in KycDocument.objects.filter(case__in=list(cases.values()), status="accepted").order_by("uploaded_at", "id"):
        docs[document.case_id].append(document)
    return {player_id: (case, docs.get(case.pk, [])) for player_id, case in cases.items()}


# --- quarterly aggregates ---------------------------------------------------------------------------


def registrations_between(*, start: datetime, end: datetime) -> dict[str, int]:
    rows = Player.objects.filter(created_at__gte=start, created_at__lt=end).values("currency").annotate(n=Count("id"))
    return {r["currency"]: r["n"] for r in rows}


def active_accounts_between(*, start: datetime, end: datetime) -> dict[str, int]:
    """Players who placed at least one stake in the period (the UKGC's 'active customer accounts')."""
    rows = (
        Entry.objects.filter(created_at__gte=start, created_at__lt=end, kind=TransactionKind.BET, account__kind=AccountKind.PLAYER_CASH)
        .values("account__currency")
        .annotate(n=Count("account__player_id", distinct=True))
    )
    return {r["account__currency"]: r["n"] for r in rows}


def customer_funds_at(*, moment: datetime) -> dict[str, int]:
    """Money held for players at `moment` (cash, bonus and held withdrawals), per currency."""
    rows = (
        Entry.objects.filter(account__player__isnull=False, created_at__lt=moment)
        .values("account__currency")
        .annotate(total=Sum("amount"))
    )
    return {r["account__currency"]: int(r["total"]) for r in rows}


def self_exclusions_started(*, start: datetime, end: datetime) -> dict[str, int]:
    rows = (
        Exclusion.objects.filter(kind=ExclusionKind.SELF_EXCLUSION, starts_at__gte=start, starts_at__lt=end)
        .values("player__currency")
        .annotate(n=Count("id"))
    )
    return {r["player__currency"]: r["n"] for r in rows}


# --- the runs themselves --------------------------------------------------------------------------


def report_runs() -> QuerySet[ReportRun]:
    return ReportRun.objects.select_related("requested_by", "supersedes")


def latest_done_run(*, report_type: str, period: str, before_version: int | None = None) -> ReportRun | None:
    runs = ReportRun.objects.filter(report_type=report_type, period=period, status=RunStatus.DONE)
    if before_version is not None:
        runs = runs.filter(version__lt=before_version)
    return runs.order_by("-version").first()


def transaction_count(*, start: datetime, end: datetime) -> int:
    return LedgerTransaction.objects.filter(created_at__gte=start, created_at__lt=end).count()


def player_device_ids(*, player_ids: Iterable[int]) -> dict[int, str]:
    return dict(Player.objects.filter(pk__in=list(player_ids)).values_list("pk", "device_id"))


def players_for_registry_ids(*, player_ids: Iterable[int]) -> list[tuple[int, str]]:
    return list(Player.objects.filter(pk__in=list(player_ids)).values_list("pk", "public_id"))
