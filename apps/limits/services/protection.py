"""The gate for deposits and stakes: protection_check.

It only reads (under the player's lock, which it takes and the caller's transaction holds). What
has become due by the clock is applied in the answer and stored by the service or task that owns
it: a limit raise or removal whose cooling-off has passed counts as in force (stored by
limit_activate_due / the next limit service), and a return from self-exclusion whose one-day
cooling-off has passed counts as done (stored by reactivation_complete_due, every 15 minutes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import transaction

from apps.core import clock
from apps.core.errors import AccountBlocked, InvalidState, LimitExceeded, SelfExcluded, ValidationFailed
from apps.core.money import Money
from apps.limits.models import Limit, LimitKind, LimitPeriod
from apps.limits.selectors import (
    effective_limit,
    return_due,
    self_exclusion_active,
    status_after_return,
    timeout_active,
    usage_from_flows,
    window_flows,
)
from apps.players.models import PlayerStatus
from apps.players.selectors import player_assert_can_play, player_assert_not_legally_barred

from .exclusions import self_exclusion_assert_returnable
from .lock import exclusion_details, fresh_player, iso, lock_protection_and_status

ACTION_LIMIT_KINDS: dict[str, tuple[str, ...]] = {
    "deposit": (LimitKind.DEPOSIT,),
    "stake": (LimitKind.WAGER, LimitKind.LOSS),
}
PERIOD_ADJECTIVE = {LimitPeriod.DAY: "daily", LimitPeriod.WEEK: "weekly", LimitPeriod.MONTH: "monthly"}


def protection_check(*, player, action: str, amount: Money, pending: Callable[[], Money] | None = None) -> None:
    """Refuse a deposit or stake the player's status, exclusions or limits do not allow.

    `pending` reports money already committed to but not yet in the ledger (deposits awaiting
    their PSP); it is called under the player's lock, so concurrent requests see each other's.

    Call it inside the money service's transaction, before anything is posted: the player's
    protection lock it takes is held until that transaction commits. Called outside one, the lock
    would end before the money moves and concurrent calls could jointly exceed a limit, so that is
    refused as a programming error.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("protection_check must run inside the transaction that posts the deposit or stake.")
    kinds = ACTION_LIMIT_KINDS.get(action)
    if kinds is None:
        raise ValueError(f"Unknown protected action {action!r}.")
    _protection_check_locked(player=player, kinds=kinds, amount=amount, pending=pending)


def _protection_check_locked(*, player, kinds: tuple[str, ...], amount: Money, pending: Callable[[], Money] | None) -> None:
    protection, status, currency = lock_protection_and_status(player)
    now = clock.now()
    _status_and_exclusions(player, protection, status, currency, amount, now)
    if protection.has_limits:
        _check_limits(player=player, kinds=kinds, amount=amount, now=now, pending=pending)


def _status_and_exclusions(player, protection, status: str, currency: str, amount: Money, now: datetime) -> None:
    """Status (suspended, closed, self-excluded or legally barred), time-out, self-exclusion, wallet currency."""
    if status != PlayerStatus.ACTIVE:
        # The rare path: the whole player (read after the lock too), to see a due return from
        # self-exclusion or to refuse with the players app's own error.
        current = fresh_player(player)
        if current.status == PlayerStatus.SELF_EXCLUDED:
            # Legally barred (GAMSTOP, RGIAJ): no return from their own exclusion lets them play, not even one
            # asked for before the register named them (UKGC LCCP SR 3.5.4, RD 1614/2011 art. 26).
            player_assert_not_legally_barred(current)
        if current.status == PlayerStatus.SELF_EXCLUDED and return_due(protection, now):
            # The return took effect when its cooling-off ended; the task stores it. A suspension
            # from before the exclusion comes back with it. Not if the return no longer holds: the person
            # self-excluded on another account meanwhile (UKGC LCCP SR 3.5.4; the rule is in .exclusions).
            try:
                self_exclusion_assert_returnable(protection, current, now)
            except InvalidState:
                raise SelfExcluded(details=exclusion_details(protection, now)) from None
            returned_to = status_after_return(protection)
            if returned_to != PlayerStatus.ACTIVE:
                raise AccountBlocked(details={"status": returned_to})
        else:
            try:
                player_assert_can_play(current)
            except SelfExcluded:
                raise SelfExcluded(details=exclusion_details(protection, now)) from None
        currency = current.currency
    if timeout_active(protection, now):
        raise SelfExcluded(
            f"You are taking a time-out until {protection.timeout_until:%Y-%m-%d %H:%M} UTC.",
            details={"reason": "timeout", "until": iso(protection.timeout_until)},
        )
    if self_exclusion_active(protection, now):
        raise SelfExcluded(details=exclusion_details(protection, now))
    if amount.currency != currency:
        raise ValidationFailed(details={"currency": [f"Use {currency}."]})


def _check_limits(*, player, kinds: tuple[str, ...], amount: Money, now: datetime, pending: Callable[[], Money] | None) -> None:
    flows_by_period: dict[str, dict[str, int]] = {}
    breaches: list[tuple[int, int, Limit, int]] = []
    pending_minor: int | None = None
    for limit in Limit.objects.filter(player_id=player.pk, kind__in=kinds):
        # A raise or removal whose cooling-off has passed is in force now, stored or not.
        amount_minor = effective_limit(limit, now).amount_minor
        if amount_minor is None:
            continue
        if limit.period not in flows_by_period:
            flows_by_period[limit.period] = window_flows(player=player, period=limit.period, now=now)
        used = usage_from_flows(limit.kind, flows_by_period[limit.period])
        if limit.kind == LimitKind.DEPOSIT and pending is not None:
            # Unsettled deposits count in every window: they are younger than any of them.
            if pending_minor is None:
                pending_minor = pending().minor
            used += pending_minor
        remaining = max(amount_minor - used, 0)
        if amount.minor > remaining:
            breaches.append((remaining, amount_minor, limit, used))
    if not breaches:
        return
    # The lowest applicable limit wins: name the one with the least room left.
    remaining, limit_minor, limit, used = min(breaches, key=lambda b: (b[0], b[1]))
    currency = limit.currency
    raise LimitExceeded(
        f"This would exceed your {PERIOD_ADJECTIVE[limit.period]} {limit.kind} limit.",
        details={
            "kind": limit.kind,
            "period": limit.period,
            "limit": str(Money.from_minor(limit_minor, currency)),
            "used": str(Money.from_minor(used, currency)),
            "remaining": str(Money.from_minor(remaining, currency)),
        },
    )

