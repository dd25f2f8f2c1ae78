"""The only code that moves money. Everything else asks these functions to post a transaction."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.dispatch import Signal

from apps.core import clock
from apps.core.errors import IdempotencyConflict, InsufficientFunds, ValidationFailed
from apps.core.money import Money

from .models import PLAYER_KINDS, Account, AccountKind, Entry, LedgerTransaction, TransactionKind

# Sent once the posting has committed (never for a rolled-back one); receivers get transaction_id.
transaction_posted = Signal()


@dataclass(frozen=True, slots=True)
class Posting:
    account: Account
    amount: int  # signed minor units; positive credits the account


@dataclass(frozen=True, slots=True)
class PlayerAccounts:
    cash: Account
    bonus: Account
    hold: Account


def _get_or_create_account(*, player_id: int | None, kind: str, currency: str) -> Account:
    account = Account.objects.filter(player_id=player_id, kind=kind, currency=currency).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(player_id=player_id, kind=kind, currency=currency)
    except IntegrityError:
        # Another request opened it first; the unique constraint guarantees there is one.
        return Account.objects.get(player_id=player_id, kind=kind, currency=currency)


def system_account(*, kind: str, currency: str) -> Account:
    if kind in PLAYER_KINDS:
        raise ValueError(f"{kind} is a player account kind.")
    return _get_or_create_account(player_id=None, kind=kind, currency=currency)


def player_accounts(*, player) -> PlayerAccounts:
    """The player's cash, bonus and hold accounts in their wallet currency, opened on first use."""
    by_kind = {a.kind: a for a in Account.objects.filter(player_id=player.pk, currency=player.currency)}
    for kind in (AccountKind.PLAYER_CASH, AccountKind.PLAYER_BONUS, AccountKind.PLAYER_HOLD):
        if kind not in by_kind:
            by_kind[kind] = _get_or_create_account(player_id=player.pk, kind=kind, currency=player.currency)
    return PlayerAccounts(
        cash=by_kind[AccountKind.PLAYER_CASH], bonus=by_kind[AccountKind.PLAYER_BONUS], hold=by_kind[AccountKind.PLAYER_HOLD]
    )


def _fingerprint(kind: str, postings: Sequence[Posting], reference: str) -> str:
    canonical = json.dumps([kind, sorted((p.account.pk, p.amount) for p in postings), reference], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate(postings: Sequence[Posting]) -> None:
    if len(postings) < 2:
        raise ValidationFailed("A transaction needs at least two entries.")
    per_currency: dict[str, int] = defaultdict(int)
    seen: set[int] = set()
    for posting in postings:
        if isinstance(posting.amount, bool) or not isinstance(posting.amount, int):
            raise TypeError("Posting amounts are integer minor units.")
        if posting.amount == 0:
            raise ValidationFailed("A posting cannot be zero.")
        if posting.account.pk in seen:
            raise ValidationFailed("An account appears twice in one transaction.")
        seen.add(posting.account.pk)
        per_currency[posting.account.currency] += posting.amount
    unbalanced = {currency: total for currency, total in per_currency.items() if total != 0}
    if unbalanced:
        raise ValidationFailed("The transaction does not balance.", details={"unbalanced": unbalanced})


def _replay(idempotency_key: str, fingerprint: str) -> LedgerTransaction:
    existing = LedgerTransaction.objects.get(idempotency_key=idempotency_key)
    if existing.fingerprint != fingerprint:
        raise IdempotencyConflict(details={"idempotency_key": idempotency_key})
    existing.replayed = True
    return existing


def _insert_transaction(**values) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING: a concurrent twin waits on the unique index, then yields.

    Returns the new id, or None when the idempotency key already exists. No savepoint is
    needed, so a posting nested in a caller's transaction never poisons it.
    """
    columns = list(values)
    table = LedgerTransaction._meta.db_table
    field_columns = [LedgerTransaction._meta.get_field(name).column for name in columns]
    placeholders = ", ".join(["%s"] * len(columns))
    sql = (
        f"INSERT INTO {table} ({', '.join(field_columns)}) VALUES ({placeholders}) "  # noqa: S608 - names from model meta
        f"ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
    )
    params = [LedgerTransaction._meta.get_field(name).get_db_prep_save(v, connection) for name, v in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


@transaction.atomic
def transaction_post(
    *,
    kind: str,
    idempotency_key: str,
    postings: Sequence[Posting],
    reference: str = "",
    reason: str = "",
    actor=None,
    metadata: dict | None = None,
) -> LedgerTransaction:
    """Post one balanced transaction, or nothing at all.

    Locks every touched account (SELECT ... FOR UPDATE, ordered by id so two postings never
    wait on each other in opposite orders), checks balances against the locked values,
    writes the entries and the cached balances in the same transaction. Replaying a key
    returns the original transaction (with `.replayed = True`) and posts nothing.
    """
    if kind not in TransactionKind.values:
        raise ValidationFailed(f"Unknown transaction kind {kind!r}.")
    if not idempotency_key or len(idempotency_key) > 160:
        raise ValidationFailed("An idempotency key of 1 to 160 characters is required.")
    _validate(postings)
    fingerprint = _fingerprint(kind, postings, reference)

    ids = sorted(p.account.pk for p in postings)
    locked = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}

    now = clock.now()
    txn_id = _insert_transaction(
        kind=kind,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        reference=reference,
        reason=reason,
        metadata=metadata or {},
        created_by=actor.pk if actor is not None else None,
        created_at=now,
    )
    if txn_id is None:
        return _replay(idempotency_key, fingerprint)

    entries: list[Entry] = []
    shortfalls: dict[str, str] = {}
    for posting in sorted(postings, key=lambda p: p.account.pk):
        account = locked[posting.account.pk]
        account.balance += posting.amount
        if account.kind in PLAYER_KINDS and account.balance < 0:
            shortfalls[account.kind] = str(Money.from_minor(account.balance - posting.amount, account.currency))
        entries.append(
            Entry(
                transaction_id=txn_id,
                account_id=account.pk,
                amount=posting.amount,
                balance_after=account.balance,
                kind=kind,
                created_at=now,
            )
        )
    if shortfalls:
        # Raising rolls back the transaction row inserted above: nothing is left behind.
        raise InsufficientFunds(details={"available": shortfalls})

    Entry.objects.bulk_create(entries)
    Account.objects.bulk_update(list(locked.values()), ["balance"])

    txn = LedgerTransaction(
        pk=txn_id,
        kind=kind,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        reference=reference,
        reason=reason,
        metadata=metadata or {},
        created_by=actor,
        created_at=now,
    )
    txn._state.adding = False
    txn._state.db = "default"
    txn.replayed = False
    txn.posted_entries = entries
    transaction.on_commit(partial(transaction_posted.send_robust, sender=LedgerTransaction, transaction_id=txn_id))
    return txn


# --- The postings the rest of the system needs, each one balanced by construction. ---


def _player_money(player, amount: Money) -> None:
    if amount.currency != player.currency:
        raise ValidationFailed(
            f"The wallet is in {player.currency}, not {amount.currency}.",
            details={"currency": [f"Use {player.currency}."]},
        )
    if amount.minor <= 0:
        raise ValidationFailed(details={"amount": ["The amount must be greater than zero."]})


def _counterparty(kind: str, currency: str) -> Account:
    return system_account(kind=kind, currency=currency)


@transaction.atomic
def deposit_post(*, player, amount: Money, idempotency_key: str, reference: str, actor=None, metadata=None) -> LedgerTransaction:
    """PSP clearing pays the player's cash: the PSP now owes us the money."""
    _player_money(player, amount)
    accounts = player_accounts(player=player)
    clearing = _counterparty(AccountKind.PSP_CLEARING, amount.currency)
    return transaction_post(
        kind=TransactionKind.DEPOSIT,
        idempotency_key=idempotency_key,
        postings=[Posting(accounts.cash, amount.minor), Posting(clearing, -amount.minor)],
        reference=reference,
        actor=actor,
        metadata=metadata,
    )


@transaction.atomic
def withdrawal_hold_post(*, player, amount: Money, idempotency_key: str, reference: str, actor=None) -> LedgerTransaction:
    """Cash moves to the hold account while the withdrawal awaits approval; it can no longer be staked."""
    _player_money(player, amount)
    accounts = player_accounts(player=player)
    return transaction_post(
        kind=TransactionKind.WITHDRAWAL,
        idempotency_key=idempotency_key,
        postings=[Posting(accounts.cash, -amount.minor), Posting(accounts.hold, amount.minor)],
        reference=reference,
        actor=actor,
    )


@transaction.atomic
def withdrawal_release_post(
    *, player, amount: Money, idempotency_key: str, reference: str, actor=None, reason: str = ""
) -> LedgerTransaction:
    """A rejected or cancelled withdrawal returns the held amount to cash."""
    _player_money(player, amount)
    accounts = player_accounts(player=player)
    return transaction_post(
        kind=TransactionKind.WITHDRAWAL_REVERSAL,
        idempotency_key=idempotency_key,
        postings=[Posting(accounts.hold, -amount.minor), Posting(accounts.cash, amount.minor)],
        reference=reference,
        actor=actor,
        reason=reason,
    )


@transaction.atomic
def withdrawal_payout_post(*, player, amount: Money, idempotency_key: str, reference: str, actor=None) -> LedgerTransaction:
    """The money leaves: hold to PSP clearing."""
    _player_money(player, amount)
    accounts = player_accounts(player=player)
    clearing = _counterparty(AccountKind.PSP_CLEARING, amount.currency)
    return transaction_post(
        kind=TransactionKind.WITHDRAWAL_PAYOUT,
        idempotency_key=idempotency_key,
        postings=[Posting(accounts.hold, -amount.minor), Posting(clearing, amount.minor)],
        reference=reference,
        actor=actor,
    )


@transaction.atomic
def bet_post(*, player, amount: Money, idempotency_key: str, reference: str, metadata=None) -> LedgerTransaction:
    """A stake: player cash to house game revenue, after the responsible-gaming protection check.

    The check runs first, inside this transaction, and holds the player's protection lock
    until commit, so concurrent stakes cannot jointly exceed a limit.
    """
    from apps.limits.services import protection_check

    _player_money(player, amount)
    existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        # A replay of a stake already taken must answer as before, even if a limit is now reached.
        protection_check(player=player, action="stake", amount=amount)
    accounts = player_accounts(player=player)
    house = _counterparty(AccountKind.HOUSE_GAME_REVENUE, amount.currency)
    return transaction_post(
        kind=TransactionKind.BET,
        idempotency_key=idempotency_key,
        postings=[Posting(accounts.cash, -amount.minor), Posting(house, amount.minor)],
        reference=reference,
        metadata=metadata,
    )


@transaction.atomic
def win_post(*, player, amount: Money, idempotency_key: str, reference: str, metadata=None) -> LedgerTransaction:
    """A payout (stake included): house game revenue to player cash."""
    _player_money(player, amount)
    accounts = player_accounts(player=player)
    house = _counterparty(AccountKind.HOUSE_GAME_REVENUE, amount.currency)
    return transaction_post(
        kind=TransactionKind.WIN,
        idempotency_key=idempotency_key,
        postings=[Posting(house, -amount.minor), Posting(accounts.cash, amount.minor)],
        reference=reference,
        metadata=metadata,
    )


@transaction.atomic
def rollback_post(*, player, amount: Money, idempotency_key: str, reference: str, metadata=None) -> LedgerTransaction:
    """A cancelled bet: the stake returns from house game revenue to the player's cash."""
    _player_money(player, amount)
    accounts = player_accounts(player=player)
    house = _counterparty(AccountKind.HOUSE_GAME_REVENUE, amount.currency)
    return transaction_post(
        kind=TransactionKind.ROLLBACK,
        idempotency_key=idempotency_key,
        postings=[Posting(house, -amount.minor), Posting(accounts.cash, amount.minor)],
        reference=reference,
        metadata=metadata,
    )


@transaction.atomic
def adjustment_post(*, player, amount_minor: int, actor, reason: str, idempotency_key: str) -> LedgerTransaction:
    """An operator's correction of a player's cash, against the adjustments account, with a reason.

    A positive amount credits the player, a negative one debits (never below zero).
    """
    if not reason or not reason.strip():
        raise ValidationFailed(details={"reason": ["A reason is required for every adjustment."]})
    if actor is None:
        raise ValidationFailed("An adjustment needs the acting operator.")
    if amount_minor == 0:
        raise ValidationFailed(details={"amount": ["The adjustment cannot be zero."]})
    accounts = player_accounts(player=player)
    adjustments = _counterparty(AccountKind.ADJUSTMENTS, player.currency)
    return transaction_post(
        kind=TransactionKind.ADJUSTMENT,
        idempotency_key=idempotency_key,
        postings=[Posting(accounts.cash, amount_minor), Posting(adjustments, -amount_minor)],
        reference=f"adjustment:player:{player.pk}",
        reason=reason.strip(),
        actor=actor,
    )
