"""Deposit, loss and wager limits: set, remove, tighten by staff, and activate due changes (UKGC RTS 12)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.core import clock
from apps.core.errors import NotFound, SelfExcluded, ValidationFailed
from apps.core.history import save_with_history
from apps.core.money import Money
from apps.limits.models import Limit, LimitKind, LimitPeriod, PlayerProtection
from apps.limits.selectors import cooling_off, self_exclusion_active, timeout_active
from apps.players.models import PlayerStatus

from .lock import fresh_player, iso, lock_protection


def _apply_due_change(limit: Limit, now: datetime) -> bool:
    """Store a raise or removal whose cooling-off has passed; it took effect at pending_from, not now."""
    if limit.pending_from is None or limit.pending_from > now:
        return False
    removal = limit.pending_removal
    limit.amount_minor = None if removal else limit.pending_amount_minor
    limit.activated_at = limit.pending_from
    limit.pending_amount_minor = None
    limit.pending_removal = False
    limit.pending_from = None
    reason = "Cooling-off ended: removal took effect" if removal else "Cooling-off ended: raise took effect"
    save_with_history(limit, actor=None, reason=reason)
    return True


def _validate_kind_period(kind: str, period: str) -> None:
    details = {}
    if kind not in LimitKind.values:
        details["kind"] = [f"Choose one of {', '.join(LimitKind.values)}."]
    if period not in LimitPeriod.values:
        details["period"] = [f"Choose one of {', '.join(LimitPeriod.values)}."]
    if details:
        raise ValidationFailed(details=details)


def _validate_amount(player, amount: Money) -> None:
    if not isinstance(amount, Money):
        raise TypeError("A limit amount is Money.")
    if amount.currency != player.currency:
        raise ValidationFailed(details={"amount": [f"Limits are in the wallet currency, {player.currency}."]})
    if amount.minor <= 0:
        raise ValidationFailed(details={"amount": ["A limit must be greater than zero; remove it instead."]})


def _limit_locked(player, kind: str, period: str, now: datetime) -> Limit | None:
    """The player's limit row (the caller holds the protection lock, so nobody else changes it)."""
    limit = Limit.objects.filter(player_id=player.pk, kind=kind, period=period).first()
    if limit is not None:
        _apply_due_change(limit, now)
    return limit


def _apply_now(player, limit: Limit | None, *, kind: str, period: str, amount_minor: int, now: datetime) -> Limit:
    if limit is None:
        limit = Limit(player_id=player.pk, kind=kind, period=period, currency=player.currency)
    if limit.amount_minor != amount_minor:
        limit.amount_minor = amount_minor
        limit.activated_at = now
    limit.pending_amount_minor = None
    limit.pending_removal = False
    limit.pending_from = None
    limit.requested_at = now
    return limit


def _save_limit(protection: PlayerProtection, limit: Limit, *, actor, reason: str) -> None:
    """Save a limit; the player's first one also sets protection.has_limits, under the same lock and transaction."""
    created = limit.pk is None
    save_with_history(limit, actor=actor, reason=reason)
    if created and not protection.has_limits:
        PlayerProtection.objects.filter(pk=protection.pk).update(has_limits=True, updated_at=clock.now())
        protection.has_limits = True


def _has_pending(limit: Limit) -> bool:
    return limit.pending_from is not None


def _refuse_loosening_while_excluded(player, protection: PlayerProtection, now: datetime) -> None:
    """No raise or removal during a time-out or self-exclusion, not even a pending one: it would be
    live when the player comes back, at the moment they are most at risk (UKGC RTS 12's intent:
    loosening needs a calm decision; an excluded player may only make limits stricter)."""
    if timeout_active(protection, now):
        raise SelfExcluded(
            "Limits cannot be raised or removed during a time-out.",
            details={"reason": "timeout", "until": iso(protection.timeout_until)},
        )
    if self_exclusion_active(protection, now) or fresh_player(player).status == PlayerStatus.SELF_EXCLUDED:
        raise SelfExcluded(
            "Limits cannot be raised or removed while self-excluded.",
            details={"reason": "self_exclusion", "until": iso(protection.self_excluded_until)},
        )


@transaction.atomic
def limit_set(*, player, kind: str, period: str, amount: Money) -> Limit:
    """Set the player's own limit. Tighter applies at once; looser waits the cooling-off (UKGC RTS 12)."""
    _validate_kind_period(kind, period)
    _validate_amount(player, amount)
    protection = lock_protection(player.pk)
    now = clock.now()
    limit = _limit_locked(player, kind, period, now)
    new = amount.minor
    current = limit.amount_minor if limit is not None else None

    if current is None or new < current:
        limit = _apply_now(player, limit, kind=kind, period=period, amount_minor=new, now=now)
        reason = "New limit: applies at once" if current is None else "Decrease: applies at once (UKGC RTS 12)"
    elif new == current:
        if not _has_pending(limit):
            return limit
        limit = _apply_now(player, limit, kind=kind, period=period, amount_minor=new, now=now)
        reason = "Same amount again: pending change cancelled"
    else:
        _refuse_loosening_while_excluded(player, protection, now)
        if limit.pending_amount_minor == new:
            # Asking again for the same raise must not restart the player's cooling-off.
            return limit
        limit.pending_amount_minor = new
        limit.pending_removal = False
        limit.pending_from = now + cooling_off()
        limit.requested_at = now
        reason = "Increase requested: pending until the cooling-off ends (UKGC RTS 12)"
    _save_limit(protection, limit, actor=player.user, reason=reason)
    return limit


@transaction.atomic
def limit_remove(*, player, kind: str, period: str) -> Limit:
    """Ask to remove a limit: it stays in force for the cooling-off, as a raise would."""
    _validate_kind_period(kind, period)
    protection = lock_protection(player.pk)
    now = clock.now()
    limit = _limit_locked(player, kind, period, now)
    if limit is None or limit.amount_minor is None:
        raise NotFound("There is no such limit to remove.", details={"kind": kind, "period": period})
    if limit.pending_removal:
        return limit
    _refuse_loosening_while_excluded(player, protection, now)
    limit.pending_amount_minor = None
    limit.pending_removal = True
    limit.pending_from = now + cooling_off()
    limit.requested_at = now
    save_with_history(limit, actor=player.user, reason="Removal requested: pending until the cooling-off ends (UKGC RTS 12)")
    return limit


@transaction.atomic
def limit_tighten_by_operator(*, player, kind: str, period: str, amount: Money, actor, reason: str) -> Limit:
    """An operator makes a limit stricter (e.g. after a safer-gambling interaction); never looser."""
    _validate_kind_period(kind, period)
    _validate_amount(player, amount)
    if actor is None:
        raise ValidationFailed("A stricter limit set by staff needs the acting user.")
    if not reason or not reason.strip():
        raise ValidationFailed(details={"reason": ["A reason is required."]})
    protection = lock_protection(player.pk)
    now = clock.now()
    limit = _limit_locked(player, kind, period, now)
    current = limit.amount_minor if limit is not None else None
    if current is not None and amount.minor > current:
        raise ValidationFailed(
            "Staff can only make a limit stricter, never looser.",
            details={"amount": [f"Must be at most {Money.from_minor(current, limit.currency)}."]},
        )
    if current is not None and amount.minor == current and not _has_pending(limit):
        raise ValidationFailed("This limit is already in force.", details={"amount": ["Choose a lower amount."]})
    limit = _apply_now(player, limit, kind=kind, period=period, amount_minor=amount.minor, now=now)
    _save_limit(protection, limit, actor=actor, reason=f"Made stricter by staff: {reason.strip()}")
    return limit


def limit_activate_due(*, now: datetime | None = None) -> int:
    """Store every raise or removal whose cooling-off has passed; one short transaction per player."""
    now = now or clock.now()
    player_ids = Limit.objects.filter(pending_from__lte=now).values_list("player_id", flat=True).distinct()
    return sum(_activate_due_for(player_id=player_id, now=now) for player_id in list(player_ids))


@transaction.atomic
def _activate_due_for(*, player_id: int, now: datetime) -> int:
    lock_protection(player_id)
    return sum(_apply_due_change(limit, now) for limit in Limit.objects.filter(player_id=player_id, pending_from__lte=now))

