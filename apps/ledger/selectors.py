"""Read queries over the ledger: balances, statements and the window sums that limits and reports need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery, Sum

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


def transaction_wallet_movements(*, transaction_id: int) -> list[WalletMovement]:
    """The player wallets a posting touched, in one query over its entries (house accounts left out)."""
    moved: dict[tuple[int, str], WalletMovement] = {}
    rows = Entry.objects.filter(transaction_id=transaction_id, account__player_id__isnull=False).values_list(
        "account__player_id", "account__currency", "kind", "amount"
    )
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
