"""Every write to deposits and withdrawals. The money itself moves only through apps.ledger.services.

Ledger idempotency keys are derived from the payment row and the step
(`deposit:<id>`, `withdrawal:<id>:hold|release|payout`), so a step can post at most once
whatever retries happen above it; the FSM makes sure each step is taken at most once.

Other apps are called through their modules (`kyc_selectors.kyc_is_approved(...)`), not
imported names, so their owners can replace stubs and tests can stand in for them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.core import clock, holds
from apps.core.errors import (
    IdempotencyConflict,
    InvalidState,
    KycRequired,
    MarketRestricted,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from apps.core.fsm import fsm_step
from apps.core.history import save_with_history
from apps.core.money import Money, MoneyError, parse_amount, require_wallet_amount
from apps.kyc import selectors as kyc_selectors
from apps.ledger import selectors as ledger_selectors
from apps.ledger import services as ledger_services
from apps.limits import services as limits_services
from apps.markets import selectors as markets_selectors
from apps.players import selectors as player_selectors

from . import selectors
from .models import Deposit, DepositMethod, DepositStatus, Withdrawal, WithdrawalStatus

REVIEW_PERMISSION = "payments.review_withdrawal"


# --- shared helpers ---


# The regulator's device classes (REPORTS.md): mobile, PC, tablet, phone, other.
DEVICE_CLASSES = ("MO", "PC", "TB", "TF", "OT")


def device_class(value: str | None) -> str:
    """The device class a client declared, or blank when it declared none we know (never a guess)."""
    value = (value or "").strip().upper()
    return value if value in DEVICE_CLASSES else ""


def instrument_fingerprint(*, method: str, last4: str = "", token: str = "") -> str:
    """A keyed hash that says "the same card or account" without holding its number (PCI DSS 3.4: no PAN stored).

    Built from the method, the last four digits and the PSP's own token for the instrument (a card or
    IBAN token, which is stable per instrument at that PSP); without a token there is no fingerprint,
    since "card ending 1234" alone is shared by strangers. Keyed (HMAC) so a leaked table cannot be
    matched against a list of numbers; AML counts it like a device id (shared identity rule).
    """
    token = (token or "").strip()
    if not token:
        return ""
    key = (getattr(settings, "PAYMENTS_INSTRUMENT_KEY", "") or settings.SECRET_KEY).encode()
    message = f"{method}|{last4 or ''}|{token}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _require_key(idempotency_key: str) -> None:
    if not idempotency_key or len(idempotency_key) > 64:
        raise ValidationFailed(details={"idempotency_key": ["An idempotency key of 1 to 64 characters is required."]})


def _enabled_methods() -> list[str]:
    """The deposit methods this deployment offers.

    The sandbox PSP credits cash without taking real money, so a production deployment lists
    only its real PSPs in PAYMENTS_DEPOSIT_METHODS.
    """
    configured = getattr(settings, "PAYMENTS_DEPOSIT_METHODS", None)
    if configured is None:
        return list(DepositMethod.values)
    return [m for m in configured if m in DepositMethod.values]


def _new_psp_reference() -> str:
    return f"sbx_{uuid.uuid4().hex}"


# --- deposits ---


def _deposit_replay(existing: Deposit, *, amount: Money, method: str) -> Deposit:
    if existing.amount_minor != amount.minor or existing.currency != amount.currency or existing.method != method:
        raise IdempotencyConflict(details={"idempotency_key": existing.idempotency_key})
    return existing


def _lock_deposit(deposit_id: int) -> Deposit:
    deposit = Deposit.objects.select_for_update(of=("self",)).select_related("player").filter(pk=deposit_id).first()
    if deposit is None:
        raise NotFound("No such deposit.")
    return deposit


@transaction.atomic
def deposit_create(
    *, player, amount: Money, method: str, idempotency_key: str, ip_address: str | None = None, device: str = ""
) -> Deposit:
    """Start a deposit; the sandbox PSP settles it at once, `sandbox_async` waits for the webhook.

    Replaying an idempotency key returns the deposit it created, whatever has changed since.
    """
    require_wallet_amount(amount, player.currency)
    _require_key(idempotency_key)
    enabled = _enabled_methods()
    if method not in enabled:
        raise ValidationFailed(details={"method": [f"Choose one of {', '.join(enabled) or '(none enabled)'}."]})
    existing = Deposit.objects.filter(player_id=player.pk, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _deposit_replay(existing, amount=amount, method=method)

    # The status gate (self-excluded, timed out, suspended, closed) and the deposit limits, inside
    # this transaction and before anything is written: the check holds the player's protection
    # lock until commit, so concurrent deposits cannot jointly exceed a deposit limit, nor the
    # KYC threshold checked next.
    limits_services.protection_check(
        player=player,
        action="deposit",
        amount=amount,
        pending=lambda: selectors.deposits_in_flight_total(player=player),
    )
    # The market's identity rules (verification before play, due diligence in EUR), under the same lock.
    limits_services.market_money_check(
        player=player, amount=amount, pending=lambda: selectors.deposits_in_flight_total(player=player)
    )

    deposit = Deposit(
        player=player,
        amount_minor=amount.minor,
        currency=amount.currency,
        method=method,
        idempotency_key=idempotency_key,
        psp_reference=_new_psp_reference(),
        ip_address=ip_address,
        device=device_class(device),
    )
    try:
        with transaction.atomic():
            save_with_history(deposit, actor=player.user, reason="deposit initiated by the player")
    except IntegrityError:
        # A concurrent request with the same key committed first: answer with its deposit.
        existing = Deposit.objects.filter(player_id=player.pk, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _deposit_replay(existing, amount=amount, method=method)

    if method == DepositMethod.SANDBOX:
        return deposit_complete(deposit_id=deposit.pk, psp_reference=deposit.psp_reference)
    return deposit


@transaction.atomic
def deposit_complete(
    *, deposit_id: int, psp_reference: str = "", actor=None, card_last4: str = "", holder_verified: bool = False,
    instrument_token: str = "",
) -> Deposit:
    """Credit the cash for a payment the PSP confirmed. Completing a completed deposit is a no-op.

    No status or limit gate here on purpose: the PSP has already taken the player's money,
    so it must reach their wallet even if they self-excluded meanwhile (they can withdraw it).
    """
    deposit = _lock_deposit(deposit_id)
    if psp_reference and deposit.psp_reference and psp_reference != deposit.psp_reference:
        raise ValidationFailed(details={"psp_reference": ["This is not the PSP reference of that deposit."]})
    if deposit.status == DepositStatus.COMPLETED:
        return deposit
    fsm_step(deposit, "complete")
    if psp_reference and not deposit.psp_reference:
        if Deposit.objects.filter(psp_reference=psp_reference).exclude(pk=deposit.pk).exists():
            raise ValidationFailed(details={"psp_reference": ["This PSP reference belongs to another deposit."]})
        deposit.psp_reference = psp_reference
    txn = ledger_services.deposit_post(
        player=deposit.player,
        amount=deposit.amount,
        idempotency_key=f"deposit:{deposit.pk}",
        reference=f"deposit:{deposit.pk}",
        actor=actor,
        metadata={"method": deposit.method, "psp_reference": deposit.psp_reference},
    )
    deposit.ledger_transaction_id = txn.pk
    deposit.completed_at = clock.now()
    deposit.card_last4 = card_last4 if re.fullmatch(r"\d{4}", card_last4 or "") else ""
    deposit.holder_verified = holder_verified is True
    deposit.instrument_fingerprint = instrument_fingerprint(method=deposit.method, last4=deposit.card_last4, token=instrument_token)
    save_with_history(deposit, actor=actor, reason="deposit completed by the PSP")
    return deposit


@transaction.atomic
def deposit_fail(*, deposit_id: int, reason: str, actor=None) -> Deposit:
    """The PSP refused or the player abandoned the payment; nothing was credited. Failing twice is a no-op."""
    deposit = _lock_deposit(deposit_id)
    if deposit.status == DepositStatus.FAILED:
        return deposit
    fsm_step(deposit, "fail")
    deposit.failure_reason = (reason or "failed at the PSP")[:255]
    save_with_history(deposit, actor=actor, reason=deposit.failure_reason)
    return deposit


@transaction.atomic
def deposit_apply_psp_notification(
    *,
    status: str,
    deposit_id: int | None = None,
    psp_reference: str = "",
    amount: str | None = None,
    currency: str | None = None,
    failure_reason: str = "",
    card_last4: str = "",
    holder_verified: bool = False,
    instrument_token: str = "",
) -> Deposit:
    """Apply a signed PSP webhook. Retries of the same notification change nothing.

    When the PSP states an amount, it must be the deposit's: we never credit a different
    sum than the one the PSP says it collected.
    """
    if deposit_id is None and not psp_reference:
        raise ValidationFailed(details={"deposit_id": ["Send deposit_id or psp_reference."]})
    if deposit_id is not None:
        found = Deposit.objects.filter(pk=deposit_id).first()
        if found is None:
            raise NotFound("No such deposit.")
        if psp_reference and found.psp_reference and found.psp_reference != psp_reference:
            raise ValidationFailed(details={"psp_reference": ["This is not the PSP reference of that deposit."]})
    else:
        found = selectors.deposit_by_psp_reference(psp_reference=psp_reference)
        if found is None:
            raise NotFound("No deposit with this PSP reference.")
    if currency is not None and currency != found.currency:
        raise ValidationFailed(details={"currency": [f"The deposit is in {found.currency}."]})
    if amount is not None:
        try:
            stated = parse_amount(amount, found.currency)
        except MoneyError as exc:
            raise ValidationFailed(details={"amount": [str(exc)]}) from None
        if stated != found.amount:
            raise ValidationFailed(details={"amount": [f"The deposit is for {found.amount}."]})
    if status == DepositStatus.COMPLETED:
        return deposit_complete(
            deposit_id=found.pk, psp_reference=psp_reference, card_last4=card_last4, holder_verified=holder_verified,
            instrument_token=instrument_token,
        )
    if status == DepositStatus.FAILED:
        return deposit_fail(deposit_id=found.pk, reason=failure_reason or "declined by the PSP")
    raise ValidationFailed(details={"status": ["Use completed or failed."]})


# --- withdrawals ---


def _withdrawal_replay(existing: Withdrawal, *, amount: Money) -> Withdrawal:
    if existing.amount_minor != amount.minor or existing.currency != amount.currency:
        raise IdempotencyConflict(details={"idempotency_key": existing.idempotency_key})
    return existing


def _lock_withdrawal(withdrawal_id: int, *, player_id: int | None = None) -> Withdrawal:
    rows = Withdrawal.objects.select_for_update(of=("self",)).select_related("player").filter(pk=withdrawal_id)
    if player_id is not None:
        # Someone else's withdrawal is answered (and locked) exactly like one that does not exist.
        rows = rows.filter(player_id=player_id)
    withdrawal = rows.first()
    if withdrawal is None:
        raise NotFound("No such withdrawal.")
    return withdrawal


def _require_reviewer(actor) -> None:
    # The admin checks this too; the service repeats it so no other caller can skip the check.
    if actor is None or not actor.is_active or not actor.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied("Reviewing withdrawals needs the review_withdrawal permission.")


def _release_hold(withdrawal: Withdrawal, *, actor, reason: str) -> None:
    txn = ledger_services.withdrawal_release_post(
        player=withdrawal.player,
        amount=withdrawal.amount,
        idempotency_key=f"withdrawal:{withdrawal.pk}:release",
        reference=f"withdrawal:{withdrawal.pk}",
        actor=actor if getattr(actor, "is_staff", False) else None,
        reason=reason,
    )
    withdrawal.settlement_transaction_id = txn.pk


@transaction.atomic
def withdrawal_request(
    *, player, amount: Money, idempotency_key: str, ip_address: str | None = None, device: str = ""
) -> Withdrawal:
    """Move the amount from cash to hold; an operator approves or rejects later.

    Self-excluded players may withdraw: exclusion stops play and deposits, never access to
    their own money. Replaying an idempotency key returns the withdrawal it created.
    """
    require_wallet_amount(amount, player.currency)
    _require_key(idempotency_key)
    existing = Withdrawal.objects.filter(player_id=player.pk, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _withdrawal_replay(existing, amount=amount)

    player_selectors.player_assert_can_withdraw(player)
    # An AML review (apps.aml registers the hold) pauses new withdrawals: 403 account_under_review.
    holds.assert_withdrawals_not_held(player)
    if not kyc_selectors.kyc_is_approved(player=player):
        raise KycRequired()

    withdrawal = Withdrawal(
        player=player, amount_minor=amount.minor, currency=amount.currency, idempotency_key=idempotency_key, ip_address=ip_address,
        device=device_class(device),
    )
    try:
        with transaction.atomic():
            save_with_history(withdrawal, actor=player.user, reason="withdrawal requested by the player")
    except IntegrityError:
        existing = Withdrawal.objects.filter(player_id=player.pk, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _withdrawal_replay(existing, amount=amount)

    # InsufficientFunds here rolls the whole request back, the withdrawal row included.
    txn = ledger_services.withdrawal_hold_post(
        player=player, amount=amount, idempotency_key=f"withdrawal:{withdrawal.pk}:hold", reference=f"withdrawal:{withdrawal.pk}"
    )
    withdrawal.hold_transaction_id = txn.pk
    save_with_history(withdrawal, actor=player.user, reason="cash moved to hold")
    return withdrawal


def net_deposits(*, player) -> Money:
    """Completed deposits minus every withdrawal not rejected or cancelled (requested, approved, paid)."""
    deposited = sum(Deposit.objects.filter(player_id=player.pk, status=DepositStatus.COMPLETED).values_list("amount_minor", flat=True))
    withdrawn = sum(
        Withdrawal.objects.filter(player_id=player.pk)
        .exclude(status__in=[WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED]).values_list("amount_minor", flat=True)
    )
    return Money.from_minor(max(deposited - withdrawn, 0), player.currency)


@transaction.atomic
def withdrawal_return_funds(*, player, actor, reason: str) -> Withdrawal:
    """An operator returns an excluded (self-excluded or legally barred) player's money: a withdrawal of their net
    deposits (at most their cash) to the payment method of their latest completed deposit, without KYC.

    Why without KYC: the player may not gamble again and keeping their money is no option (UKGC LCCP SR 3.5.3:
    return the balance on self-exclusion; RD 1614/2011 for RGIAJ hits); back to where it came from, it creates
    no laundering channel. It then follows the normal approve and pay steps, with who and why in the history.
    """
    _require_reviewer(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": ["Say why the funds are returned; it is kept in the withdrawal's history."]})
    current = player_selectors.player_by_public_id(player.public_id)
    if current.status != "self_excluded":
        raise InvalidState(
            "Funds are returned this way only to a self-excluded or legally barred player.", details={"status": current.status}
        )
    holds.assert_withdrawals_not_held(current)
    last_deposit = Deposit.objects.filter(player_id=current.pk, status=DepositStatus.COMPLETED).order_by("-id").first()
    if last_deposit is None:
        raise InvalidState("The player has no completed deposit to return the money to.")
    cash = ledger_selectors.wallet_balances(player=current).cash
    amount = Money.from_minor(min(net_deposits(player=current).minor, cash.minor), current.currency)
    if amount.minor <= 0:
        raise InvalidState("Nothing to return: no net deposits in cash.")
    withdrawal = Withdrawal(
        player=current, amount_minor=amount.minor, currency=amount.currency, idempotency_key=f"return:{uuid.uuid4().hex}",
        return_reason=reason, payout_method=last_deposit.method,
    )
    save_with_history(withdrawal, actor=actor, reason=f"Funds returned to an excluded player: {reason}")
    txn = ledger_services.withdrawal_hold_post(
        player=current, amount=amount, idempotency_key=f"withdrawal:{withdrawal.pk}:hold", reference=f"withdrawal:{withdrawal.pk}"
    )
    withdrawal.hold_transaction_id = txn.pk
    save_with_history(withdrawal, actor=actor, reason="cash moved to hold")
    return withdrawal


@transaction.atomic
def withdrawal_cancel(*, player, withdrawal_id: int) -> Withdrawal:
    """The player changes their mind before an operator has looked at it: hold back to cash.

    Not in markets that forbid reverse withdrawals (UKGC, since 2020: money a player asked for must not be
    offered back to gamble with), whatever the withdrawal's state.
    """
    withdrawal = _lock_withdrawal(withdrawal_id, player_id=player.pk)
    if not markets_selectors.policy_for(player).withdrawal_reversal_allowed:
        raise MarketRestricted("Your market does not allow a requested withdrawal to be cancelled.", details={"market": player.market})
    fsm_step(withdrawal, "cancel")
    _release_hold(withdrawal, actor=None, reason="withdrawal cancelled by the player")
    withdrawal.cancelled_at = clock.now()
    save_with_history(withdrawal, actor=player.user, reason="cancelled by the player")
    return withdrawal


@transaction.atomic
def withdrawal_approve(*, withdrawal: Withdrawal, actor, note: str = "") -> Withdrawal:
    """An operator clears the request for payout (the hold stays until it is paid)."""
    _require_reviewer(actor)
    locked = _lock_withdrawal(withdrawal.pk)
    # A pending withdrawal cannot be cleared for payout while an AML review holds the player's money.
    holds.assert_withdrawals_not_held(locked.player)
    fsm_step(locked, "approve")
    locked.reviewed_by = actor
    locked.reviewed_at = clock.now()
    locked.review_note = note.strip()
    save_with_history(locked, actor=actor, reason=locked.review_note or "approved")
    return locked


@transaction.atomic
def withdrawal_reject(*, withdrawal: Withdrawal, actor, reason: str) -> Withdrawal:
    """An operator refuses a requested or approved (not yet paid) withdrawal: hold back to cash."""
    _require_reviewer(actor)
    if not reason or not reason.strip():
        raise ValidationFailed(details={"reason": ["A reason is required to reject a withdrawal."]})
    reason = reason.strip()
    locked = _lock_withdrawal(withdrawal.pk)
    fsm_step(locked, "reject")
    _release_hold(locked, actor=actor, reason=reason)
    locked.reviewed_by = actor
    locked.reviewed_at = clock.now()
    locked.rejection_reason = reason
    save_with_history(locked, actor=actor, reason=reason)
    return locked


@transaction.atomic
def withdrawal_mark_paid(
    *, withdrawal: Withdrawal, actor, psp_reference: str = "", card_last4: str = "", instrument_token: str = ""
) -> Withdrawal:
    """The payout was sent: the held money leaves to PSP clearing.

    The PSP's payout confirmation names the instrument paid to (last four digits, its token): kept for the
    regulator's CJD operation line and as a fingerprint AML compares across players.
    """
    _require_reviewer(actor)
    locked = _lock_withdrawal(withdrawal.pk)
    fsm_step(locked, "mark_paid")
    txn = ledger_services.withdrawal_payout_post(
        player=locked.player,
        amount=locked.amount,
        idempotency_key=f"withdrawal:{locked.pk}:payout",
        reference=f"withdrawal:{locked.pk}",
        actor=actor,
    )
    locked.settlement_transaction_id = txn.pk
    locked.paid_by = actor
    locked.paid_at = clock.now()
    locked.psp_reference = psp_reference.strip()[:100]
    locked.card_last4 = card_last4 if re.fullmatch(r"\d{4}", card_last4 or "") else ""
    locked.instrument_fingerprint = instrument_fingerprint(method="payout", last4=locked.card_last4, token=instrument_token)
    save_with_history(locked, actor=actor, reason=f"paid out{f' ({locked.psp_reference})' if locked.psp_reference else ''}")
    return locked


__all__ = [
    "REVIEW_PERMISSION",
    "WithdrawalStatus",
    "deposit_apply_psp_notification",
    "deposit_complete",
    "deposit_create",
    "deposit_fail",
    "instrument_fingerprint",
    "withdrawal_approve",
    "withdrawal_cancel",
    "withdrawal_mark_paid",
    "withdrawal_reject",
    "withdrawal_request",
]
