"""Read queries over the ledger: balances, statements and the window sums that limits and reports need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet, Sum

from apps.core.money import Money

from .models import Account, AccountKind, Entry, LedgerTransaction


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


def wallet_balances(*, player) -> WalletBalances:
    balances = dict(
        Account.objects.filter(player_id=player.pk, currency=player.currency).values_list("kind", "balance")
    )
    currency = player.currency
    return WalletBalances(
        currency=currency,
        cash=Money.from_minor(balances.get(AccountKind.PLAYER_CASH, 0), currency),
        bonus=Money.from_minor(balances.get(AccountKind.PLAYER_BONUS, 0), currency),
        held=Money.from_minor(balances.get(AccountKind.PLAYER_HOLD, 0), currency),
    )


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
