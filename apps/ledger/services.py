"""The named postings the rest of the system asks for, each one balanced by construction.

The posting engine (locks, idempotency, balance checks, the single-statement write) is in
apps.ledger.engine; these functions say what moves where for each business event and nothing more.
The engine's public names are re-exported here, so callers import everything from one place.
"""

from __future__ import annotations

from apps.core.errors import ValidationFailed
from apps.core.money import Money, require_wallet_amount

from .engine import (  # noqa: F401 - re-exported: the ledger's public interface
    WALLET_KINDS,
    PlayerAccounts,
    Posting,
    counterparty_shard,
    player_accounts,
    player_post,
    posting_atomic,
    system_account,
    transaction_announce,
    transaction_post,
    transaction_posted,
    wallet_movements,
)
from .models import AccountKind, LedgerTransaction, TransactionKind


def _player_money(player, amount: Money) -> None:
    require_wallet_amount(amount, player.currency)


@posting_atomic
def deposit_post(*, player, amount: Money, idempotency_key: str, reference: str, actor=None, metadata=None) -> LedgerTransaction:
    """PSP clearing pays the player's cash: the PSP now owes us the money."""
    _player_money(player, amount)
    return player_post(
        player=player,
        kind=TransactionKind.DEPOSIT,
        idempotency_key=idempotency_key,
        legs={AccountKind.PLAYER_CASH: amount.minor},
        counterparty_kind=AccountKind.PSP_CLEARING,
        reference=reference,
        actor=actor,
        metadata=metadata,
    )


@posting_atomic
def withdrawal_hold_post(*, player, amount: Money, idempotency_key: str, reference: str, actor=None) -> LedgerTransaction:
    """Cash moves to the hold account while the withdrawal awaits approval; it can no longer be staked."""
    _player_money(player, amount)
    return player_post(
        player=player,
        kind=TransactionKind.WITHDRAWAL,
        idempotency_key=idempotency_key,
        legs={AccountKind.PLAYER_CASH: -amount.minor, AccountKind.PLAYER_HOLD: amount.minor},
        reference=reference,
        actor=actor,
    )


@posting_atomic
def withdrawal_release_post(
    *, player, amount: Money, idempotency_key: str, reference: str, actor=None, reason: str = ""
) -> LedgerTransaction:
    """A rejected or cancelled withdrawal returns the held amount to cash."""
    _player_money(player, amount)
    return player_post(
        player=player,
        kind=TransactionKind.WITHDRAWAL_REVERSAL,
        idempotency_key=idempotency_key,
        legs={AccountKind.PLAYER_HOLD: -amount.minor, AccountKind.PLAYER_CASH: amount.minor},
        reference=reference,
        actor=actor,
        reason=reason,
    )


@posting_atomic
def withdrawal_payout_post(*, player, amount: Money, idempotency_key: str, reference: str, actor=None) -> LedgerTransaction:
    """The money leaves: hold to PSP clearing."""
    _player_money(player, amount)
    return player_post(
        player=player,
        kind=TransactionKind.WITHDRAWAL_PAYOUT,
        idempotency_key=idempotency_key,
        legs={AccountKind.PLAYER_HOLD: -amount.minor},
        counterparty_kind=AccountKind.PSP_CLEARING,
        reference=reference,
        actor=actor,
    )


def _game_post(*, kind: str, sign: int, player, amount: Money, idempotency_key: str, reference: str, metadata) -> LedgerTransaction:
    """Stakes, payouts and rollbacks all move the player's cash against their shard of house game revenue."""
    _player_money(player, amount)
    return player_post(
        player=player,
        kind=kind,
        idempotency_key=idempotency_key,
        legs={AccountKind.PLAYER_CASH: sign * amount.minor},
        counterparty_kind=AccountKind.HOUSE_GAME_REVENUE,
        reference=reference,
        metadata=metadata,
    )


@posting_atomic
def bet_post(*, player, amount: Money, idempotency_key: str, reference: str, metadata=None) -> LedgerTransaction:
    """A stake: player cash to house game revenue.

    The ledger knows nothing of why a stake is allowed: the caller (games.services.stake_place) runs the
    responsible-gaming check in the same transaction first.
    """
    return _game_post(
        kind=TransactionKind.BET,
        sign=-1,
        player=player,
        amount=amount,
        idempotency_key=idempotency_key,
        reference=reference,
        metadata=metadata,
    )


@posting_atomic
def win_post(*, player, amount: Money, idempotency_key: str, reference: str, metadata=None) -> LedgerTransaction:
    """A payout (stake included): house game revenue to player cash."""
    return _game_post(
        kind=TransactionKind.WIN,
        sign=1,
        player=player,
        amount=amount,
        idempotency_key=idempotency_key,
        reference=reference,
        metadata=metadata,
    )


@posting_atomic
def rollback_post(*, player, amount: Money, idempotency_key: str, reference: str, metadata=None) -> LedgerTransaction:
    """A cancelled bet: the stake returns from house game revenue to the player's cash."""
    return _game_post(
        kind=TransactionKind.ROLLBACK,
        sign=1,
        player=player,
        amount=amount,
        idempotency_key=idempotency_key,
        reference=reference,
        metadata=metadata,
    )


@posting_atomic
def adjustment_post(*, player, amount_minor: int, actor, reason: str, idempotency_key: str) -> LedgerTransaction:
    """An operator's correction of a player's cash, against the adjustments account, with a reason.

    A positive amount credits the player, a negative one debits (never below zero).
    """
    if not reason or not reason.strip():
        raise ValidationFailed(details={"reason": ["A reason is required for every adjustment."]})
    if actor is None:
        raise ValidationFailed("An adjustment needs the acting operator.")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("Adjustments are integer minor units.")
    if amount_minor == 0:
        raise ValidationFailed(details={"amount": ["The adjustment cannot be zero."]})
    return player_post(
        player=player,
        kind=TransactionKind.ADJUSTMENT,
        idempotency_key=idempotency_key,
        legs={AccountKind.PLAYER_CASH: amount_minor},
        counterparty_kind=AccountKind.ADJUSTMENTS,
        reference=f"adjustment:player:{player.pk}",
        reason=reason.strip(),
        actor=actor,
    )
