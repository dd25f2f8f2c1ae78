"""Read queries the reports need: composed from the owning apps' selectors (ARCHITECTURE.md, layer 6
reads "selectors of layers 1-5", never their models); reports write only their own models.

Every money figure is a sum of ledger entries (the ledger is the source of truth); payments, players,
KYC and limits add the descriptive detail the regulators ask for. Queries stream with iterator() or
work on one chunk of players at a time, so memory does not grow with the period.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet

from apps.kyc import selectors as kyc_selectors
from apps.ledger import selectors as ledger_selectors
from apps.ledger.selectors import TransactionKind
from apps.limits import selectors as limits_selectors
from apps.markets import selectors as markets_selectors
from apps.payments import selectors as payments_selectors
from apps.players import selectors as player_selectors

from .models import ReportRun, RunStatus

# Re-exported for the report writers (the ledger owns both).
WALLET_KINDS = ledger_selectors.WALLET_KINDS
GAME_KINDS = ledger_selectors.GAME_KINDS

journal_entries = ledger_selectors.journal_entries
game_totals = ledger_selectors.game_totals
wallet_balances_before = ledger_selectors.wallet_balances_before
wallet_movements = ledger_selectors.wallet_movements
active_accounts_between = ledger_selectors.active_accounts_between
customer_funds_at = ledger_selectors.customer_funds_at
transaction_count = ledger_selectors.transaction_count
registrations_between = player_selectors.registrations_between
status_history = player_selectors.status_history
player_device_ids = player_selectors.player_device_ids
players_for_registry = player_selectors.players_with_users
limits_of = limits_selectors.limits_requested_before
exclusions_of = limits_selectors.exclusions_requested_before
self_exclusions_started = limits_selectors.self_exclusions_started
kyc_of = kyc_selectors.kyc_cases_with_accepted_documents
market_for_report = markets_selectors.market_for_report


def game_of(metadata_game: str | None) -> str:
    return metadata_game or "unknown"


def game_type_of(*, game_type: str | None, game: str | None) -> str:
    """The regulator's game type code of a stake, win or rollback.

    The posting's metadata may carry `game_type` (a DGOJ code) or a game `game` slug mapped by
    settings.REPORTS_GAME_TYPES; anything else is reported as slots (AZA).
    """
    if game_type:
        return game_type
    mapping = getattr(settings, "REPORTS_GAME_TYPES", {})
    return mapping.get(game or "", getattr(settings, "REPORTS_DEFAULT_GAME_TYPE", "AZA"))


def money_operations(*, player_ids: Iterable[int], start: datetime, end: datetime) -> list[dict]:
    """Deposits credited and withdrawals paid in the period (from the ledger), with their payment rows."""
    entries = ledger_selectors.wallet_entries(
        player_ids=player_ids, kinds=(TransactionKind.DEPOSIT, TransactionKind.WITHDRAWAL_PAYOUT), start=start, end=end
    )
    payments = payments_selectors.payments_by_ledger_transaction(transaction_ids=[e["transaction_id"] for e in entries])
    for e in entries:
        e["payment"] = payments.get(e["transaction_id"])
    return entries


def cancelled_deposits(*, player_ids: Iterable[int], start: datetime, end: datetime) -> QuerySet:
    return payments_selectors.failed_deposits(start=start, end=end, player_ids=player_ids)


def cancelled_withdrawals(*, player_ids: Iterable[int], start: datetime, end: datetime) -> QuerySet:
    return payments_selectors.cancelled_withdrawals(start=start, end=end, player_ids=player_ids)


def players_with_movement(*, start: datetime, end: datetime) -> QuerySet:
    """Ids of players whose gaming account moved, or who had a payment cancelled, in the period."""
    return player_selectors.player_ids_registered_before(end=end, any_of=[
        ledger_selectors.player_ids_with_wallet_movement(start=start, end=end),
        payments_selectors.failed_deposits(start=start, end=end).order_by().values("player_id"),
        payments_selectors.cancelled_withdrawals(start=start, end=end).order_by().values("player_id"),
    ])


def players_registered_before(*, end: datetime) -> QuerySet:
    return player_selectors.player_ids_registered_before(end=end)


def players_new_or_changed(*, start: datetime, end: datetime) -> QuerySet:
    """Daily RUD: players registered or whose registry data, status, KYC, limits or exclusions changed."""
    return player_selectors.player_ids_registered_before(end=end, new_since=start, any_of=[
        player_selectors.player_ids_changed_between(start=start, end=end),
        kyc_selectors.kyc_player_ids_changed_between(start=start, end=end),
        *limits_selectors.limit_player_ids_changed_between(start=start, end=end),
    ])


def players_for_registry_ids(*, player_ids: Iterable[int]) -> list[tuple[int, str]]:
    return list(player_selectors.player_public_ids(player_ids=player_ids).items())


# --- the runs themselves --------------------------------------------------------------------------


def report_runs() -> QuerySet[ReportRun]:
    return ReportRun.objects.select_related("requested_by", "supersedes")


def latest_done_run(*, report_type: str, period: str, before_version: int | None = None) -> ReportRun | None:
    runs = ReportRun.objects.filter(report_type=report_type, period=period, status=RunStatus.DONE)
    if before_version is not None:
        runs = runs.filter(version__lt=before_version)
    return runs.order_by("-version").first()
