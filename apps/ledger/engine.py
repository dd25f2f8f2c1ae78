"""The posting engine: the only code that moves money. The named postings (services.py) ask it to post.

On PostgreSQL a posting is one round trip inside the caller's transaction: one call of the PL/pgSQL
function ledger_post (migration 0007) locks the accounts, checks the balances against the locked
values, passes the idempotency gate, moves the cached balances and appends the entries, and answers
with a status (posted, replay, conflict, insufficient, missing) instead of raising, as pure-SQL
ledgers do. The application layer's cost per posting was its round trips and SQL building, not
PostgreSQL's work (scripts/bench.py measures it; bench/profiles/ shows where the time goes).
Other databases (the SQLite demo) take the same steps one by one in Python; the same tests run both.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial, wraps

from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connection, transaction
from django.dispatch import Signal

from apps.core import clock
from apps.core.dbcall import call_prepared
from apps.core.errors import IdempotencyConflict, InsufficientFunds, ValidationFailed
from apps.core.money import Money

from .models import COUNTERPARTY_SHARDS, PLAYER_KINDS, Account, AccountKind, Entry, LedgerTransaction, TransactionKind
from .selectors import WalletMovement

# Sent once the posting has committed (never for a rolled-back one); receivers get transaction_id, and
# movements: what it did to each player wallet, as selectors.transaction_wallet_movements would read it back.
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


WALLET_KINDS = (AccountKind.PLAYER_CASH, AccountKind.PLAYER_BONUS, AccountKind.PLAYER_HOLD)
_TRANSACTION_KINDS = frozenset(TransactionKind.values)


def posting_atomic(func):
    """Every posting is atomic; a caller that composes it into its own transaction may pass savepoint=False.

    A savepoint costs two round trips on every stake and win. An orchestrator that lets any error of the
    posting end its whole transaction (games.stake_place does) needs none; the default keeps one, so a caller
    that catches a refusal (an admin loop, a test) can carry on in the same transaction.

    On PostgreSQL a posting called outside any transaction needs none of its own: it is one statement
    (ledger_post), and one statement is atomic. BEGIN and COMMIT were two of its three round trips; the
    on-commit event then fires as soon as the statement returns, as Django does outside a transaction.
    """

    @wraps(func)
    def posting(*args, savepoint: bool = True, **kwargs):
        if not connection.in_atomic_block and _single_statement():
            return func(*args, **kwargs)
        with transaction.atomic(savepoint=savepoint):
            return func(*args, **kwargs)

    return posting


# --- Accounts -----------------------------------------------------------------------------------


def _get_or_create_account(*, player_id: int | None, kind: str, currency: str, shard: int = 0) -> Account:
    account = Account.objects.filter(player_id=player_id, kind=kind, currency=currency, shard=shard).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(player_id=player_id, kind=kind, currency=currency, shard=shard)
    except IntegrityError:
        # Another request opened it first; the unique constraint guarantees there is one.
        return Account.objects.get(player_id=player_id, kind=kind, currency=currency, shard=shard)


def system_account(*, kind: str, currency: str, shard: int = 0) -> Account:
    """One shard of a house account (models.COUNTERPARTY_SHARDS), opened on first use.

    The house's balance of a kind is the sum of its shards: selectors.system_balance.
    """
    if kind in PLAYER_KINDS:
        raise ValueError(f"{kind} is a player account kind.")
    if not 0 <= shard < COUNTERPARTY_SHARDS:
        raise ValueError(f"Shard {shard} is outside 0..{COUNTERPARTY_SHARDS - 1}.")
    return _get_or_create_account(player_id=None, kind=kind, currency=currency, shard=shard)


def counterparty_shard(player) -> int:
    """The house shard a player's postings use: always the same one, so they stay in posting order."""
    return player.pk % COUNTERPARTY_SHARDS


def player_accounts(*, player) -> PlayerAccounts:
    """The player's cash, bonus and hold accounts in their wallet currency, opened on first use."""
    by_kind = {a.kind: a for a in Account.objects.filter(player_id=player.pk, currency=player.currency)}
    for kind in WALLET_KINDS:
        if kind not in by_kind:
            by_kind[kind] = _get_or_create_account(player_id=player.pk, kind=kind, currency=player.currency)
    return PlayerAccounts(
        cash=by_kind[AccountKind.PLAYER_CASH], bonus=by_kind[AccountKind.PLAYER_BONUS], hold=by_kind[AccountKind.PLAYER_HOLD]
    )


# --- The posting engine --------------------------------------------------------------------------


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
        if posting.account.pk is None:
            raise ValueError("Postings need saved accounts.")
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


def _check_kind_and_key(kind: str, idempotency_key: str) -> None:
    if kind not in _TRANSACTION_KINDS:
        raise ValidationFailed(f"Unknown transaction kind {kind!r}.")
    if not idempotency_key or len(idempotency_key) > 160:
        raise ValidationFailed("An idempotency key of 1 to 160 characters is required.")


_TRANSACTION_FIELDS = [field.attname for field in LedgerTransaction._meta.concrete_fields]
_ENTRY_FIELDS = [field.attname for field in Entry._meta.concrete_fields]
assert _TRANSACTION_FIELDS == [  # the positional rows below follow these orders
    "id", "kind", "idempotency_key", "fingerprint", "reference", "reason", "metadata", "created_by_id", "created_at"
]
assert _ENTRY_FIELDS == ["id", "transaction_id", "account_id", "amount", "balance_after", "kind", "created_at"]


def _entry(entry_id: int, txn_id: int, account_id: int, amount: int, balance: int, kind: str, now) -> Entry:
    """A saved entry as the model, built positionally (see _posted)."""
    return Entry.from_db(DEFAULT_DB_ALIAS, _ENTRY_FIELDS, (entry_id, txn_id, account_id, amount, balance, kind, now))


def wallet_movements(kind: str, amounts: Sequence[tuple[int, str, int]]) -> tuple[WalletMovement, ...]:
    """(player id, currency, amount) of each player-account entry of a posting -> its wallet movements.

    The poster knows them already: announcing them saves every after-commit receiver the query that would read
    them back (apps.backoffice.realtime ran it after every stake and win).
    """
    largest: dict[tuple[int, str], int] = {}
    for player_id, currency, amount in amounts:
        largest[(player_id, currency)] = max(abs(amount), largest.get((player_id, currency), 0))
    return tuple(WalletMovement(player_id=p, currency=c, kind=kind, largest_minor=m) for (p, c), m in largest.items())


def transaction_announce(transaction_id: int, movements: tuple[WalletMovement, ...]) -> None:
    """Send transaction_posted once the caller's transaction commits (at once outside one)."""
    transaction.on_commit(
        partial(transaction_posted.send_robust, sender=LedgerTransaction, transaction_id=transaction_id, movements=movements)
    )


def _posting_movements(kind: str, postings: Sequence[Posting]) -> tuple[WalletMovement, ...]:
    players = [(p.account.player_id, p.account.currency, p.amount) for p in postings if p.account.player_id is not None]
    return wallet_movements(kind, players)


def _posted(txn_id: int, values: dict, fingerprint: str, entries: list[Entry], movements: tuple[WalletMovement, ...]) -> LedgerTransaction:
    """The transaction just written, as a saved model, its entries attached; announced once it commits."""
    actor = values["actor"]
    # from_db with every field in order: Django's positional __init__, several times cheaper than keywords.
    txn = LedgerTransaction.from_db(DEFAULT_DB_ALIAS, _TRANSACTION_FIELDS, (
        txn_id, values["kind"], values["idempotency_key"], fingerprint, values["reference"], values["reason"],
        values["metadata"] or {}, actor.pk if actor is not None else None, values["now"],
    ))
    if actor is not None:
        txn.created_by = actor
    txn.replayed = False
    txn.posted_entries = entries
    transaction_announce(txn_id, movements)
    return txn


# --- PostgreSQL: one round trip per posting ------------------------------------------------------

_CALL_POST = (
    "SELECT * FROM ledger_post(%s::text, %s::text, %s::text, %s::text, %s::text, %s::jsonb, %s::bigint, %s::timestamptz, "
    "%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint, %s::text, %s::text[], %s::text, %s::integer)"
)
_NO_DATA_FOUND = "P0002"


def _post_in_database(args: list) -> tuple:
    """Call ledger_post (migration 0007): the whole posting in one statement; returns its one row."""
    try:
        return call_prepared(_CALL_POST, args)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == _NO_DATA_FOUND:
            raise Account.DoesNotExist(str(exc.__cause__).split("\n", 1)[0]) from exc
        raise


def _call_args(values: dict, amounts: list[int]) -> list:
    actor = values["actor"]
    return [
        values["kind"],
        values["idempotency_key"],
        values["reference"],
        json.dumps(values["reference"]),  # encoded as _fingerprint encodes it: the function computes the same fingerprint
        values["reason"],
        connection.ops.adapt_json_value(values["metadata"] or {}, None),
        actor.pk if actor is not None else None,
        values["now"],
        amounts,
    ]


def _answer(row: tuple, values: dict, currency_of, movements) -> LedgerTransaction:
    """ledger_post's row as the posted (or replayed) transaction, or as the refusal it reports."""
    status, txn_id, fingerprint, account_ids, entry_ids, amounts, balances, available = row
    if status == "posted":
        kind, now = values["kind"], values["now"]
        entries = [
            _entry(entry_id, txn_id, account_id, amount, balance, kind, now)
            for entry_id, account_id, amount, balance in zip(entry_ids, account_ids, amounts, balances, strict=True)
        ]
        return _posted(txn_id, values, fingerprint, entries, movements())
    if status == "replay":
        existing = LedgerTransaction.objects.get(pk=txn_id)
        existing.replayed = True
        return existing
    if status == "conflict":
        raise IdempotencyConflict(details={"idempotency_key": values["idempotency_key"]})
    if status == "insufficient":
        # Django leaves jsonb undecoded (its JSONField decodes): {account kind: locked balance in minor units}.
        available = json.loads(available) if isinstance(available, str) else available
        raise InsufficientFunds(details={"available": {k: str(Money.from_minor(v, currency_of(k))) for k, v in available.items()}})
    raise RuntimeError(f"ledger_post answered {status!r}.")  # pragma: no cover - player_post handles 'missing'


def _transaction_post_in_database(*, postings: Sequence[Posting], **values) -> LedgerTransaction:
    _check_kind_and_key(values["kind"], values["idempotency_key"])
    players = sorted((p for p in postings if p.account.kind in PLAYER_KINDS), key=lambda p: p.account.pk)
    counterparties = sorted((p for p in postings if p.account.kind not in PLAYER_KINDS), key=lambda p: p.account.pk)
    values["now"] = clock.now()
    args = _call_args(values, [p.amount for p in players] + [p.amount for p in counterparties])
    args += [[p.account.pk for p in players], [p.account.pk for p in counterparties], None, None, None, None, None]
    currencies = {p.account.kind: p.account.currency for p in players}
    return _answer(_post_in_database(args), values, currencies.__getitem__, partial(_posting_movements, values["kind"], postings))


def _player_post_in_database(*, player, legs: dict[str, int], counterparty_kind: str | None, **values) -> LedgerTransaction:
    """A wallet posting: ledger_post finds and locks the player's accounts and the house shard itself."""
    _check_kind_and_key(values["kind"], values["idempotency_key"])
    for amount in legs.values():
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError("Posting amounts are integer minor units.")
        if amount == 0:
            raise ValidationFailed("A posting cannot be zero.")
    total = sum(legs.values())
    if len(legs) + (counterparty_kind is not None) < 2:
        raise ValidationFailed("A transaction needs at least two entries.")
    if counterparty_kind is None and total != 0:
        raise ValidationFailed("The transaction does not balance.", details={"unbalanced": {player.currency: total}})
    if counterparty_kind is not None and total == 0:
        raise ValidationFailed("A posting cannot be zero.")
    values["now"] = clock.now()
    shard = counterparty_shard(player) if counterparty_kind is not None else None
    args = _call_args(values, list(legs.values()))
    args += [None, None, player.pk, player.currency, list(legs), counterparty_kind, shard]
    row = _post_in_database(args)
    if row[0] == "missing":
        # The wallet's first posting: open what is missing (a concurrent twin's opening is reused), then post.
        player_accounts(player=player)
        if counterparty_kind is not None:
            system_account(kind=counterparty_kind, currency=player.currency, shard=shard)
        row = _post_in_database(args)
    amounts = [(player.pk, player.currency, amount) for amount in legs.values()]
    return _answer(row, values, lambda _kind: player.currency, partial(wallet_movements, values["kind"], amounts))


# --- Other databases: step by step ---------------------------------------------------------------


def _for_update(of: str = "") -> str:
    # SQLite has no row locks: its IMMEDIATE transactions already serialise every writer.
    if not connection.features.has_select_for_update:
        return ""
    return f" FOR UPDATE OF {of}" if of else " FOR UPDATE"


def _lock(ids: Sequence[int]) -> dict[int, int]:
    """SELECT ... FOR UPDATE in id order; returns {id: balance} as it stands under the lock."""
    if not ids:
        return {}
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, balance FROM ledger_account WHERE id IN ({placeholders}) ORDER BY id{_for_update()}",  # noqa: S608 - placeholders only
            list(ids),
        )
        locked = dict(cursor.fetchall())
    if len(locked) != len(ids):
        raise Account.DoesNotExist(f"Ledger accounts {sorted(set(ids) - set(locked))} do not exist.")
    return locked


_INSERT_TRANSACTION = """
INSERT INTO ledger_ledgertransaction (kind, idempotency_key, fingerprint, reference, reason, metadata, created_by_id, created_at)
VALUES (%(kind)s, %(idempotency_key)s, %(fingerprint)s, %(reference)s, %(reason)s, %(metadata)s, %(created_by_id)s, %(created_at)s)
ON CONFLICT (idempotency_key) DO NOTHING"""

def _insert_transaction(values: dict) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING: a concurrent twin waits on the unique index, then yields.

    Returns the new id, or None when the idempotency key already exists. No savepoint is
    needed, so a posting nested in a caller's transaction never poisons it.
    """
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_TRANSACTION + " RETURNING id", values)
        row = cursor.fetchone()
    return row[0] if row else None


def _single_statement() -> bool:
    return connection.vendor == "postgresql"


def _write(values: dict, amounts: dict[int, int]) -> tuple[int | None, list[tuple[None, int, int]]]:
    """Insert the transaction row and, unless it is a replay, move the balances (step by step; SQLite serialises writers anyway).

    Returns (transaction id or None for a replay, [(None, account id, balance after)]); the entries are bulk-created after.
    """
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_TRANSACTION + " RETURNING id", values)
        row = cursor.fetchone()
        if row is None:
            return None, []
        moved = []
        for pk in sorted(amounts):
            cursor.execute("UPDATE ledger_account SET balance = balance + %s WHERE id = %s RETURNING balance", [amounts[pk], pk])
            balance = cursor.fetchone()
            if balance is not None:
                moved.append((None, pk, balance[0]))
        return row[0], moved


def _post_locked(
    *,
    kind: str,
    idempotency_key: str,
    postings: Sequence[Posting],
    locked: dict[int, int],
    reference: str,
    reason: str,
    actor,
    metadata: dict | None,
) -> LedgerTransaction:
    """Post, once every player account of the postings is locked; `locked` holds their balances."""
    _check_kind_and_key(kind, idempotency_key)
    fingerprint = _fingerprint(kind, postings, reference)
    now = clock.now()
    metadata = metadata or {}
    values = {
        "kind": kind,
        "idempotency_key": idempotency_key,
        "fingerprint": fingerprint,
        "reference": reference,
        "reason": reason,
        "metadata": connection.ops.adapt_json_value(metadata, None),
        "created_by_id": actor.pk if actor is not None else None,
        "created_at": connection.ops.adapt_datetimefield_value(now),
    }

    # Checked against the balances read under the lock, which no one else can change before we commit.
    shortfalls: dict[str, str] = {}
    for posting in postings:
        if posting.account.kind in PLAYER_KINDS and locked[posting.account.pk] + posting.amount < 0:
            shortfalls[posting.account.kind] = str(Money.from_minor(locked[posting.account.pk], posting.account.currency))
    if shortfalls:
        # Only a replay passes: its first answer stands even if the balance has moved since.
        if _insert_transaction(values) is None:
            return _replay(idempotency_key, fingerprint)
        # Raising rolls back the transaction row just inserted: nothing is left behind.
        raise InsufficientFunds(details={"available": shortfalls})

    amounts = {p.account.pk: p.amount for p in postings}
    txn_id, moved = _write(values, amounts)
    if txn_id is None:
        return _replay(idempotency_key, fingerprint)
    if len(moved) != len(amounts):
        raise Account.DoesNotExist(f"Ledger accounts {sorted(set(amounts) - {pk for _, pk, _ in moved})} do not exist.")
    entries = [
        Entry(id=entry_id, transaction_id=txn_id, account_id=pk, amount=amounts[pk], balance_after=balance, kind=kind, created_at=now)
        for entry_id, pk, balance in moved
    ]
    entries = Entry.objects.bulk_create(entries)
    for entry in entries:
        entry._state.adding = False
        entry._state.db = DEFAULT_DB_ALIAS

    values = {"kind": kind, "idempotency_key": idempotency_key, "reference": reference, "reason": reason}
    values = {**values, "metadata": metadata, "actor": actor, "now": now}
    return _posted(txn_id, values, fingerprint, entries, _posting_movements(kind, postings))


@posting_atomic
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

    Locks every touched account in one stable order, so two postings never wait on each other in
    a cycle: player accounts by id (SELECT ... FOR UPDATE, their balances are checked against the
    locked values), then counterparty accounts by id. A single counterparty is locked by the
    UPDATE that moves its balance, as late as possible: house revenue and PSP clearing take part
    in every stake and deposit, and holding them longer would serialise all players. Entries and
    cached balances are written in the same transaction. Replaying a key returns the original
    transaction (with `.replayed = True`) and posts nothing.
    """
    _validate(postings)
    if _single_statement():
        return _transaction_post_in_database(
            postings=postings, kind=kind, idempotency_key=idempotency_key, reference=reference, reason=reason, actor=actor,
            metadata=metadata,
        )
    player_ids = sorted(p.account.pk for p in postings if p.account.kind in PLAYER_KINDS)
    counterparty_ids = sorted(p.account.pk for p in postings if p.account.kind not in PLAYER_KINDS)
    locked = _lock(player_ids)
    if len(counterparty_ids) > 1:
        _lock(counterparty_ids)
    return _post_locked(
        kind=kind,
        idempotency_key=idempotency_key,
        postings=postings,
        locked=locked,
        reference=reference,
        reason=reason,
        actor=actor,
        metadata=metadata,
    )


# --- A player's wallet: lock it and post against one house account ------------------------------


_LOCK_WALLET = """
SELECT account.id, account.kind, account.balance,
       (SELECT house.id FROM ledger_account AS house
        WHERE house.player_id IS NULL AND house.kind = %s AND house.currency = %s AND house.shard = %s)
FROM ledger_account AS account
WHERE account.player_id = %s AND account.currency = %s
ORDER BY account.id"""


def _lock_wallet(player, counterparty_kind: str | None) -> tuple[dict[str, Account], Account | None]:
    """Lock the player's wallet accounts (by id) and find the counterparty's shard (unlocked) in one round trip.

    Locking all three of the player's accounts, not only the touched ones, costs nothing (they are
    this player's alone) and saves looking their ids up first. Missing accounts are opened on first use.
    """
    sql = _LOCK_WALLET + _for_update(of="account")
    shard = counterparty_shard(player)
    fields = ["id", "player_id", "kind", "currency", "shard", "balance"]  # in the model's field order
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(sql, [counterparty_kind, player.currency, shard, player.pk, player.currency])
            rows = cursor.fetchall()
        wallet = {
            kind: Account.from_db(DEFAULT_DB_ALIAS, fields, [pk, player.pk, kind, player.currency, 0, balance])
            for pk, kind, balance, _ in rows
        }
        counterparty_id = rows[0][3] if rows else None
        if len(wallet) == len(WALLET_KINDS) and (counterparty_kind is None or counterparty_id is not None):
            counterparty = None
            if counterparty_kind is not None:
                counterparty = Account.from_db(
                    DEFAULT_DB_ALIAS,
                    ["id", "player_id", "kind", "currency", "shard"],
                    [counterparty_id, None, counterparty_kind, player.currency, shard],
                )
            return wallet, counterparty
        # The wallet's first posting: open what is missing, then lock.
        player_accounts(player=player)
        if counterparty_kind is not None:
            system_account(kind=counterparty_kind, currency=player.currency, shard=shard)
    raise Account.DoesNotExist(f"Could not open the ledger accounts of player {player.pk}.")  # pragma: no cover


def player_post(
    *,
    player,
    kind: str,
    idempotency_key: str,
    legs: dict[str, int],
    counterparty_kind: str | None = None,
    reference: str = "",
    reason: str = "",
    actor=None,
    metadata: dict | None = None,
) -> LedgerTransaction:
    """Post amounts on the player's own accounts, balanced by one house account (or by each other)."""
    if _single_statement():
        return _player_post_in_database(
            player=player,
            legs=legs,
            counterparty_kind=counterparty_kind,
            kind=kind,
            idempotency_key=idempotency_key,
            reference=reference,
            reason=reason,
            actor=actor,
            metadata=metadata,
        )
    wallet, counterparty = _lock_wallet(player, counterparty_kind)
    postings = [Posting(wallet[account_kind], amount) for account_kind, amount in legs.items()]
    if counterparty is not None:
        postings.append(Posting(counterparty, -sum(legs.values())))
    _validate(postings)
    return _post_locked(
        kind=kind,
        idempotency_key=idempotency_key,
        postings=postings,
        locked={account.pk: account.balance for account in wallet.values()},
        reference=reference,
        reason=reason,
        actor=actor,
        metadata=metadata,
    )
