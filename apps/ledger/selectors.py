"""Read queries over the ledger: balances, statements and the window sums that limits and reports need."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Min, OuterRef, QuerySet, Subquery, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate

from apps.core.money import Money
from apps.players.models import Player, User

from .models import Account, AccountKind, Entry, LedgerTransaction, TransactionKind


@dataclass(frozen=True)
class WalletBalances:
    currency: str
    cash: Money
    bonus: Money
    held: Money

    @property
    def withdrawable(self) -> Money:
        # Bonus money carries wagering conditions and held money is already on its way out.
        return self.cash


_WALLET_BALANCES_SQL = f"SELECT kind, balance FROM {Account._meta.db_table} WHERE player_id = %s AND currency = %s"  # noqa: S608


def wallet_balances_from(currency: str, balances: dict[str, int]) -> WalletBalances:
    """A wallet from its accounts' cached balances in minor units, by account kind (absent: not opened yet, zero)."""
    return WalletBalances(
        currency=currency,
        cash=Money.from_minor(balances.get(AccountKind.PLAYER_CASH, 0), currency),
        bonus=Money.from_minor(balances.get(AccountKind.PLAYER_BONUS, 0), currency),
        held=Money.from_minor(balances.get(AccountKind.PLAYER_HOLD, 0), currency),
    )


# GET /api/v1/wallet's read on the ASGI fast path (apps.payments.fast_wallet): the token's user, whether it may
# sign in, its player and the wallet's balances, in one round trip. One row per wallet account (one with NULLs
# before the first posting opens them); no row when the user does not exist or has no player.
WALLET_FOR_USER_SQL = f"""
SELECT u.is_active, u.password, p.currency, a.kind, a.balance
FROM {User._meta.db_table} u
JOIN {Player._meta.db_table} p ON p.user_id = u.id
LEFT JOIN {Account._meta.db_table} a ON a.player_id = p.id AND a.currency = p.currency
WHERE u.id = %s"""  # noqa: S608


def wallet_balances(*, player) -> WalletBalances:
    """The wallet's cached balances as committed: one indexed read, written as SQL because GET /wallet is the
    most frequent request and compiling the equivalent QuerySet cost more CPU than running it (README, "Web servers")."""
    with connection.cursor() as cursor:
        cursor.execute(_WALLET_BALANCES_SQL, [player.pk, player.currency])
        balances = dict(cursor.fetchall())
    return wallet_balances_from(player.currency, balances)


@dataclass(frozen=True)
class WalletSnapshot:
    """A player's balances as committed, and the id of the last entry they include.

    `sequence` grows with every posting on the wallet (entries of an account are written under its lock,
    and a wallet posting locks the whole wallet), so a client that receives snapshots out of order keeps
    the one with the highest sequence.
    """

    balances: WalletBalances
    sequence: int


def wallet_snapshot(*, player_id: int, currency: str) -> WalletSnapshot:
    """The wallet's balances and last entry id in one query (the last id read backwards on the (account, id) index)."""
    last_entry = Entry.objects.filter(account_id=OuterRef("pk")).order_by("-id").values("id")[:1]
    rows = Account.objects.filter(player_id=player_id, currency=currency).annotate(last_entry=Subquery(last_entry))
    balances: dict[str, int] = {}
    sequence = 0
    for kind, balance, last in rows.values_list("kind", "balance", "last_entry"):
        balances[kind] = balance
        sequence = max(sequence, last or 0)
    return WalletSnapshot(
        balances=WalletBalances(
            currency=currency,
            cash=Money.from_minor(balances.get(AccountKind.PLAYER_CASH, 0), currency),
            bonus=Money.from_minor(balances.get(AccountKind.PLAYER_BONUS, 0), currency),
            held=Money.from_minor(balances.get(AccountKind.PLAYER_HOLD, 0), currency),
        ),
        sequence=sequence,
    )


@dataclass(frozen=True)
class WalletMovement:
    """What one posting did to one player's wallet: its kind and its largest single entry there (minor units)."""

    player_id: int
    currency: str
    kind: str
    largest_minor: int


# Entry and Account's tables; quoted identifiers read the same on PostgreSQL and SQLite.
_MOVEMENTS = (
    'SELECT a."player_id", a."currency", e."kind", e."amount" FROM "ledger_entry" e JOIN "ledger_account" a ON a."id" = e."account_id" '
    'WHERE e."transaction_id" = %s AND a."player_id" IS NOT NULL'
)


def transaction_wallet_movements(*, transaction_id: int) -> list[WalletMovement]:
    """The player wallets a posting touched, in one query over its entries (house accounts left out).

    Plain SQL: it runs after the commit of every posting (apps.backoffice.realtime), and building the
    same query through the ORM cost more CPU than the posting's own statement.
    """
    moved: dict[tuple[int, str], WalletMovement] = {}
    with connection.cursor() as cursor:
        cursor.execute(_MOVEMENTS, [transaction_id])
        rows = cursor.fetchall()
    for player_id, currency, kind, amount in rows:
        previous = moved.get((player_id, currency))
        largest = max(abs(amount), previous.largest_minor if previous else 0)
        moved[(player_id, currency)] = WalletMovement(player_id=player_id, currency=currency, kind=kind, largest_minor=largest)
    return list(moved.values())


def player_cash_entries(*, player, kind: str | None = None) -> QuerySet[Entry]:
    """The player's cash statement, newest first: what GET /wallet/transactions pages through."""
    qs = Entry.objects.filter(
        account__player_id=player.pk, account__kind=AccountKind.PLAYER_CASH, account__currency=player.currency
    ).select_related("transaction", "account")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-id")


def player_cash_flows(*, player, since: datetime, kinds: list[str] | None = None) -> dict[str, int]:
    """Signed minor-unit sums of the player's cash entries since `since`, by transaction kind.

    Deposits are positive, bets negative, wins and rollbacks positive: a limit or a report
    reads what it needs from one grouped query.
    """
    qs = Entry.objects.filter(
        account__player_id=player.pk,
        account__kind=AccountKind.PLAYER_CASH,
        account__currency=player.currency,
        created_at__gte=since,
    )
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return {row["kind"]: int(row["total"]) for row in qs.values("kind").annotate(total=Sum("amount"))}


def player_lifetime_total(*, player, kind: str) -> Money:
    total = (
        Entry.objects.filter(
            account__player_id=player.pk, account__kind=AccountKind.PLAYER_CASH, account__currency=player.currency, kind=kind
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    return Money.from_minor(int(total), player.currency)


def account_statement(*, account_id: int, before: int | None = None, limit: int = 50) -> list[Entry]:
    """One account's entries, newest first, at most `limit` of them older than entry `before`.

    Keyset paging on the (account, id) index: no COUNT and no OFFSET, so the last page of the
    house account costs what the first does. balance_after is the running balance: entries of an
    account are written under its lock, so ids grow in posting order.
    """
    entries = Entry.objects.filter(account_id=account_id).select_related("transaction__created_by").order_by("-id")
    if before is not None:
        entries = entries.filter(id__lt=before)
    return list(entries[:limit])


def player_cash_account(*, player) -> Account | None:
    return Account.objects.filter(player_id=player.pk, kind=AccountKind.PLAYER_CASH, currency=player.currency).first()


def system_balance(*, kind: str, currency: str) -> Money:
    """The house's balance of one kind and currency: the sum of its shards (models.COUNTERPARTY_SHARDS)."""
    total = Account.objects.filter(player__isnull=True, kind=kind, currency=currency).aggregate(total=Sum("balance"))["total"] or 0
    return Money.from_minor(int(total), currency)


def transaction_exists(*, idempotency_key: str) -> bool:
    """Whether a posting with this key was ever made: a caller's replay must answer as the first call did."""
    return LedgerTransaction.objects.filter(idempotency_key=idempotency_key).exists()


def entry_totals(
    *, start: datetime, end: datetime, account_kinds: list[str], kinds: list[str] | None = None
) -> dict[tuple[str, str], tuple[int, int]]:
    """(transaction kind, currency) -> (signed minor-unit sum, number of entries) of the accounts' entries in [start, end).

    Currencies are never added together. The back-office dashboard reads its money figures from here,
    so they are the ledger's own numbers, not a copy kept on the payment rows.
    """
    entries = Entry.objects.filter(created_at__gte=start, created_at__lt=end, account__kind__in=account_kinds)
    if kinds is not None:
        entries = entries.filter(kind__in=kinds)
    rows = entries.values("kind", "account__currency").annotate(total=Sum("amount"), n=Count("id")).order_by()
    return {(r["kind"], r["account__currency"]): (int(r["total"]), r["n"]) for r in rows}


def entry_totals_by_day(
    *, start: datetime, end: datetime, account_kind: str, kinds: list[str], tzinfo=None
) -> dict[tuple, int]:
    """(day, transaction kind, currency) -> signed minor-unit sum, for a chart of the days in [start, end)."""
    rows = (
        Entry.objects.filter(created_at__gte=start, created_at__lt=end, account__kind=account_kind, kind__in=kinds)
        .annotate(day=TruncDate("created_at", tzinfo=tzinfo))
        .values("day", "kind", "account__currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {(r["day"], r["kind"], r["account__currency"]): int(r["total"]) for r in rows}


def first_deposits_between(*, start: datetime, end: datetime) -> dict[str, int]:
    """Currency -> players whose first deposit (FTD) was credited in [start, end)."""
    firsts = (
        Entry.objects.filter(kind=TransactionKind.DEPOSIT, account__kind=AccountKind.PLAYER_CASH, created_at__lt=end)
        .values("account__player_id", "account__currency")
        .annotate(first=Min("created_at"))
        .filter(first__gte=start)
        .order_by()
    )
    counts: dict[str, int] = {}
    for row in firsts:
        counts[row["account__currency"]] = counts.get(row["account__currency"], 0) + 1
    return counts
# --- for regulatory reports (apps.reports reads the ledger only through these) -------------------------

# The player's gaming account in the regulators' sense: cash plus money held for a withdrawal not yet
# paid (still the player's). A withdrawal request and its cancellation move money between the two only.
WALLET_KINDS = (AccountKind.PLAYER_CASH, AccountKind.PLAYER_HOLD)
GAME_KINDS = (TransactionKind.BET, TransactionKind.WIN, TransactionKind.ROLLBACK)


def journal_entries(*, start: datetime, end: datetime) -> Iterator[Entry]:
    """Every entry posted in [start, end) with its transaction and account, in posting order, streamed."""
    return (
        Entry.objects.filter(created_at__gte=start, created_at__lt=end)
        .select_related("transaction", "account")
        .order_by("transaction_id", "id")
        .iterator(chunk_size=2000)
    )


def game_totals(*, start: datetime, end: datetime) -> QuerySet:
    """Per game (the posting's metadata) and currency: signed sums of player-cash stakes, wins and rollbacks."""
    return (
        Entry.objects.filter(created_at__gte=start, created_at__lt=end, kind__in=GAME_KINDS, account__kind=AccountKind.PLAYER_CASH)
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
    """Grouped signed sums of the players' gaming-account entries in the period, by kind, game and game type."""
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


def wallet_entries(*, player_ids: Iterable[int], kinds: Iterable[str], start: datetime, end: datetime) -> list[dict]:
    """The players' gaming-account entries of these kinds in the period, oldest first (one row each)."""
    return list(
        Entry.objects.filter(
            account__player_id__in=list(player_ids), account__kind__in=WALLET_KINDS, kind__in=list(kinds),
            created_at__gte=start, created_at__lt=end,
        )
        .values("account__player_id", "account__currency", "kind", "amount", "created_at", "transaction_id")
        .order_by("created_at", "id")
    )


def player_ids_with_wallet_movement(*, start: datetime, end: datetime) -> QuerySet:
    """A subquery of the players whose gaming account moved in the period (compose with player selectors)."""
    return Entry.objects.filter(
        account__player__isnull=False, account__kind__in=WALLET_KINDS, created_at__gte=start, created_at__lt=end
    ).values("account__player_id")


def active_accounts_between(*, start: datetime, end: datetime) -> dict[str, int]:
    """Per currency, players who placed at least one stake in the period (the UKGC's 'active customer accounts')."""
    rows = (
        Entry.objects.filter(created_at__gte=start, created_at__lt=end, kind=TransactionKind.BET, account__kind=AccountKind.PLAYER_CASH)
        .values("account__currency")
        .annotate(n=Count("account__player_id", distinct=True))
    )
    return {r["account__currency"]: r["n"] for r in rows}


def customer_funds_at(*, moment: datetime) -> dict[str, int]:
    """Money held for players at `moment` (cash, bonus and held withdrawals), per currency."""
    rows = Entry.objects.filter(account__player__isnull=False, created_at__lt=moment).values("account__currency").annotate(
        total=Sum("amount")
    )
    return {r["account__currency"]: int(r["total"]) for r in rows}


def transaction_count(*, start: datetime, end: datetime) -> int:
    return LedgerTransaction.objects.filter(created_at__gte=start, created_at__lt=end).count()
def players_cash_flows(*, since: datetime, kinds: list[str]) -> dict[int, dict[str, int]]:
    """player id → {kind: signed minor-unit sum} of every player's cash entries since `since`, in one grouped query
    (the markers-of-harm task reads all players at once). Each player's sums are in their cash account's currency."""
    rows = (
        Entry.objects.filter(account__kind=AccountKind.PLAYER_CASH, account__player__isnull=False, created_at__gte=since, kind__in=kinds)
        .values("account__player_id", "kind")
        .annotate(total=Sum("amount"))
    )
    flows: dict[int, dict[str, int]] = {}
    for row in rows:
        flows.setdefault(row["account__player_id"], {})[row["kind"]] = int(row["total"])
    return flows


def players_deposits_split(*, earlier_since: datetime, recent_since: datetime) -> dict[int, tuple[int, int]]:
    """player id → (deposits from `earlier_since` to `recent_since`, deposits since `recent_since`), minor units."""
    from django.db.models import Q

    rows = (
        Entry.objects.filter(account__kind=AccountKind.PLAYER_CASH, account__player__isnull=False, created_at__gte=earlier_since,
                             kind="deposit")
        .values("account__player_id")
        .annotate(
            earlier=Sum("amount", filter=Q(created_at__lt=recent_since)), recent=Sum("amount", filter=Q(created_at__gte=recent_since))
        )
    )
    return {row["account__player_id"]: (int(row["earlier"] or 0), int(row["recent"] or 0)) for row in rows}


def player_cash_volume_sql() -> str:
    """SQL for the absolute sum, in minor units, of a player's cash entries of some kinds since a moment.

    For callers that must fold the sum into a round trip they already make (the stake check's lock,
    apps.limits.services.lock): the ledger owns its tables, so the text comes from here. Placeholders,
    in order: player id, currency, then one per kind (`{kinds}` is filled by the caller with that many
    `%s`), then the moment. Every entry of one kind on a cash account has the same sign (deposits and
    wins credit it, bets debit it), so the sum of absolute values equals summing each kind's total.
    """
    quote = _quote()
    entry, account = quote(Entry._meta.db_table), quote(Account._meta.db_table)
    return (
        f"SELECT COALESCE(SUM(ABS(e.amount)), 0) FROM {entry} e WHERE e.account_id = ("  # noqa: S608 - no input in the text
        f"SELECT a.id FROM {account} a WHERE a.player_id = %s AND a.kind = '{AccountKind.PLAYER_CASH.value}' AND a.currency = %s"
        ") AND e.kind IN ({kinds}) AND e.created_at >= %s"
    )


def _quote():
    from django.db import connection

    return connection.ops.quote_name
