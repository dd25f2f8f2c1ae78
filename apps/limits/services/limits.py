"""Deposit, loss and wager limits: set, remove, confirm, tighten by staff, and activate due changes (UKGC RTS 12).

The cooling-off, whether a raise needs the player's confirmation and when an unconfirmed one lapses
are the player's market's rules (apps.markets.selectors.policy_for), read when the change is asked for:
a rule changed later does not move a change already waiting. Mandatory deposit limits at registration
(DGOJ) are set here too, when the players app announces a registration.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from apps.core import clock
from apps.core.errors import InvalidState, NotFound, SelfExcluded, ValidationFailed
from apps.core.history import save_with_history
from apps.core.money import Money
from apps.limits.models import Limit, LimitKind, LimitPeriod, PlayerProtection
from apps.limits.selectors import self_exclusion_active, timeout_active
from apps.markets import selectors as markets_selectors
from apps.players.models import PlayerStatus

from .lock import fresh_player, iso, lock_protection


def _clear_pending(limit: Limit) -> None:
    limit.pending_amount_minor = None
    limit.pending_removal = False
    limit.pending_from = None
    limit.confirmation_required = False
    limit.confirmation_lapses_at = None


def _apply_due_change(limit: Limit, now: datetime) -> bool:
    """Store a raise or removal whose cooling-off has passed; it took effect at pending_from, not now.

    One that waits for the player's confirmation is not applied here; once its confirmation window has
    passed unconfirmed it lapses, and the limit in force stays as it was.
    """
    if limit.pending_from is None or limit.pending_from > now:
        return False
    if limit.confirmation_required:
        if limit.confirmation_lapses_at > now:
            return False
        _clear_pending(limit)
        save_with_history(limit, actor=None, reason="Unconfirmed raise or removal lapsed (UKGC RTS 12: positive action needed)")
        return True
    removal = limit.pending_removal
    limit.amount_minor = None if removal else limit.pending_amount_minor
    limit.activated_at = limit.pending_from
    _clear_pending(limit)
    reason = "Cooling-off ended: removal took effect" if removal else "Cooling-off ended: raise took effect"
    save_with_history(limit, actor=None, reason=reason)
    return True


def _start_pending(player, limit: Limit, now: datetime) -> None:
    """The market's cooling-off, and its confirmation rule, for a raise or removal asked for now."""
    policy = markets_selectors.policy_for(player)
    limit.pending_from = now + policy.limit_cooling_off
    limit.confirmation_required = policy.limit_raise_needs_confirmation
    limit.confirmation_lapses_at = limit.pending_from + policy.confirmation_lapse if policy.limit_raise_needs_confirmation else None
    limit.requested_at = now


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
    _clear_pending(limit)
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
        _start_pending(player, limit, now)
        reason = "Increase requested: pending until the cooling-off ends (UKGC RTS 12)"
        if limit.confirmation_required:
            reason = "Increase requested: after the cooling-off the player must confirm it (UKGC RTS 12)"
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
    _start_pending(player, limit, now)
    save_with_history(limit, actor=player.user, reason="Removal requested: pending until the cooling-off ends (UKGC RTS 12)")
    return limit


@transaction.atomic
def limit_confirm(*, player, kind: str, period: str) -> Limit:
    """The player's positive action that makes a waiting raise or removal apply (UKGC RTS 12).

    Only after the cooling-off and before the change lapses; anything else is 409 invalid_state.
    """
    _validate_kind_period(kind, period)
    protection = lock_protection(player.pk)
    now = clock.now()
    limit = _limit_locked(player, kind, period, now)  # a lapsed change is cleared here first
    if limit is None or not _has_pending(limit) or not limit.confirmation_required:
        raise InvalidState("There is no raise or removal waiting for your confirmation.", details={"kind": kind, "period": period})
    if limit.pending_from > now:
        raise InvalidState(
            "The cooling-off has not ended yet; confirm after it.", details={"pending_from": iso(limit.pending_from)}
        )
    _refuse_loosening_while_excluded(player, protection, now)
    removal = limit.pending_removal
    limit.amount_minor = None if removal else limit.pending_amount_minor
    limit.activated_at = now
    _clear_pending(limit)
    limit.requested_at = now
    save_with_history(limit, actor=player.user, reason=f"Player confirmed the {'removal' if removal else 'raise'} (UKGC RTS 12)")
    return limit


@transaction.atomic
def limits_at_registration(*, player, chosen: dict[str, Money]) -> list[Limit]:
    """The deposit limits a new player starts with: the market's mandatory ones (DGOJ, RD 1614/2011 art. 36:
    600 / 1,500 / 3,000 EUR a day / week / month) unless the player chose lower, and any others they chose.

    The EUR amounts are converted to the wallet currency at today's rate, rounded down.
    """
    policy = markets_selectors.policy_for(player)
    try:
        wanted = {
            period: markets_selectors.from_eur(amount_eur, player.currency)
            for period, amount_eur in policy.mandatory_deposit_limits_eur().items()
        }
    except markets_selectors.MissingExchangeRate:
        raise ValidationFailed(details={"currency": [f"{player.currency} cannot be offered in this market today."]}) from None
    for period, amount in chosen.items():
        if period not in wanted or amount.minor < wanted[period].minor:
            wanted[period] = amount
    return [
        limit_set(player=player, kind=LimitKind.DEPOSIT, period=period, amount=amount)
        for period, amount in sorted(wanted.items(), key=lambda item: list(LimitPeriod.values).index(item[0]))
    ]


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
    player_ids = Limit.objects.filter(_due(now)).values_list("player_id", flat=True).distinct()
    return sum(_activate_due_for(player_id=player_id, now=now) for player_id in list(player_ids))


def _due(now: datetime) -> Q:
    """Changes to store now: those past their cooling-off that need no confirmation, and unconfirmed ones that lapsed."""
    return Q(pending_from__lte=now, confirmation_required=False) | Q(confirmation_lapses_at__lte=now)


@transaction.atomic
def _activate_due_for(*, player_id: int, now: datetime) -> int:
    lock_protection(player_id)
    return sum(_apply_due_change(limit, now) for limit in Limit.objects.filter(_due(now), player_id=player_id))

