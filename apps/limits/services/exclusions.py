"""Time-outs, self-exclusion and the return from it (UKGC LCCP SR 3.5.3)."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q

from apps.core import clock
from apps.core.errors import InvalidState, SelfExcluded, ValidationFailed
from apps.core.history import save_with_history
from apps.limits.models import Exclusion, ExclusionEnd, ExclusionKind, PlayerProtection
from apps.limits.selectors import (
    latest_self_exclusion,
    return_cooling_off,
    return_due,
    self_exclusion_active,
    status_after_return,
    timeout_active,
)
from apps.limits.signals import exclusion_started
from apps.players.models import PlayerStatus
from apps.players.selectors import player_assert_not_legally_barred, player_by_public_id
from apps.players.services import (
    player_reactivate,
    player_return_suspended,
    player_same_person_excluded_accounts,
    player_self_exclude,
)

from .lock import exclusion_details, fresh_player, is_int, iso, lock_protection

TIMEOUT_HOURS = (24, 1008)
# Why a return asked for was dropped, by the refusal's details reason (the history row says it).
_REFUSALS = {
    "legally_barred": "the player is legally barred (national register)",
    "identity_excluded": "the person is self-excluded on another account",
}
SELF_EXCLUSION_MONTHS = (6, 12, 60)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _end_open_exclusions(player_id: int, kind: str, *, at: datetime | None, reason: str) -> int:
    """Close the open history rows of one kind; `at=None` means each ends at its own scheduled end."""
    ended = 0
    for row in Exclusion.objects.filter(player_id=player_id, kind=kind, ended_at__isnull=True):
        row.ended_at = at or row.ends_at
        row.end_reason = reason
        save_with_history(row, actor=None, reason=f"{row.get_kind_display()} {ExclusionEnd(reason).label.lower()}")
        ended += 1
    return ended


def _announce(*, player_id: int, kind: str, until: datetime | None, permanent: bool) -> None:
    transaction.on_commit(
        partial(exclusion_started.send_robust, sender=PlayerProtection, player_id=player_id, kind=kind, until=until, permanent=permanent)
    )


@transaction.atomic
def timeout_start(*, player, hours: int) -> PlayerProtection:
    """A time-out: no deposit or stake until it ends. A new one may only end later, never sooner."""
    low, high = TIMEOUT_HOURS
    if not is_int(hours) or not low <= hours <= high:
        raise ValidationFailed(details={"hours": [f"Choose a whole number of hours from {low} to {high}."]})
    protection = lock_protection(player.pk)
    now = clock.now()
    until = now + timedelta(hours=hours)
    if timeout_active(protection, now):
        if until <= protection.timeout_until:
            raise InvalidState(
                "A time-out cannot be shortened or lifted early.",
                details={"timeout_until": iso(protection.timeout_until)},
            )
        _end_open_exclusions(player.pk, ExclusionKind.TIMEOUT, at=now, reason=ExclusionEnd.EXTENDED)
    else:
        _end_open_exclusions(player.pk, ExclusionKind.TIMEOUT, at=None, reason=ExclusionEnd.EXPIRED)
    protection.timeout_until = until
    save_with_history(protection, actor=player.user, reason=f"Time-out of {hours} hours requested by the player")
    Exclusion.objects.create(
        player_id=player.pk,
        kind=ExclusionKind.TIMEOUT,
        requested_at=now,
        starts_at=now,
        ends_at=until,
        length=hours,
        length_unit="hours",
    )
    _announce(player_id=player.pk, kind=ExclusionKind.TIMEOUT, until=until, permanent=False)
    return protection


@transaction.atomic
def self_exclusion_start(*, player, months: int | None = None, permanent: bool = False) -> PlayerProtection:
    """Self-exclusion for 6, 12 or 60 months, or for good. It can be extended but never ended early, by anyone."""
    if not isinstance(permanent, bool):
        raise ValidationFailed(details={"permanent": ["Must be true or false."]})
    if permanent and months is not None:
        raise ValidationFailed(details={"months": ["Give either months or permanent, not both."]})
    if not permanent and (not is_int(months) or months not in SELF_EXCLUSION_MONTHS):
        raise ValidationFailed(details={"months": [f"Choose one of {', '.join(map(str, SELF_EXCLUSION_MONTHS))} months, or permanent."]})
    protection = lock_protection(player.pk)
    now = clock.now()
    until = None if permanent else _add_months(now, months)

    if self_exclusion_active(protection, now):
        if protection.self_exclusion_permanent:
            raise InvalidState("This self-exclusion is permanent already.", details={"permanent": True})
        if not permanent and until <= protection.self_excluded_until:
            raise InvalidState(
                "A self-exclusion cannot be shortened or lifted early.",
                details={"self_excluded_until": iso(protection.self_excluded_until)},
            )
        _end_open_exclusions(player.pk, ExclusionKind.SELF_EXCLUSION, at=now, reason=ExclusionEnd.EXTENDED)
        starts = protection.self_excluded_from
    else:
        _end_open_exclusions(player.pk, ExclusionKind.SELF_EXCLUSION, at=None, reason=ExclusionEnd.EXPIRED)
        starts = now

    what = "permanent self-exclusion" if permanent else f"self-exclusion for {months} months"
    protection.self_excluded_from = starts
    protection.self_excluded_until = until
    protection.self_exclusion_permanent = permanent
    # A new exclusion overrides a pending request to return.
    protection.reactivation_requested_at = None
    current = fresh_player(player)
    if current.status != PlayerStatus.SELF_EXCLUDED:
        # Kept so the return restores it: a suspension must outlive the exclusion.
        protection.status_before_exclusion = current.status
    save_with_history(protection, actor=player.user, reason=f"Player asked for {what}")
    Exclusion.objects.create(
        player_id=player.pk,
        kind=ExclusionKind.SELF_EXCLUSION,
        requested_at=now,
        starts_at=now,
        ends_at=until,
        permanent=permanent,
        length=months,
        length_unit="" if permanent else "months",
    )
    # Also when a bar made the account self-excluded already: the players app then records the person's identity,
    # so this exclusion holds on their other accounts (UKGC LCCP SR 3.5.4).
    player_self_exclude(player=current, actor=player.user, reason=f"Player asked for {what}")
    _announce(player_id=player.pk, kind=ExclusionKind.SELF_EXCLUSION, until=until, permanent=permanent)
    return protection


def exclusion_end_due(*, now: datetime | None = None) -> int:
    """End every time-out and fixed-term self-exclusion whose period has passed; returns how many ended.

    Ending a self-exclusion does not make the player active again: that takes the player's own
    request (self_exclusion_reactivate). One short transaction per player, so one bad row blocks no one.
    """
    now = now or clock.now()
    due = PlayerProtection.objects.filter(
        Q(timeout_until__lte=now) | Q(self_exclusion_permanent=False, self_excluded_until__lte=now)
    ).values_list("player_id", flat=True)
    return sum(_end_expired_for(player_id=player_id, now=now) for player_id in list(due))


@transaction.atomic
def _end_expired_for(*, player_id: int, now: datetime) -> int:
    return _end_expired_locked(lock_protection(player_id), now)


def _end_expired_locked(protection: PlayerProtection, now: datetime) -> int:
    ended = []
    if protection.timeout_until is not None and protection.timeout_until <= now:
        _end_open_exclusions(protection.player_id, ExclusionKind.TIMEOUT, at=None, reason=ExclusionEnd.EXPIRED)
        protection.timeout_until = None
        ended.append("time-out")
    if not protection.self_exclusion_permanent and protection.self_excluded_until is not None and protection.self_excluded_until <= now:
        _end_open_exclusions(protection.player_id, ExclusionKind.SELF_EXCLUSION, at=None, reason=ExclusionEnd.EXPIRED)
        protection.self_excluded_from = None
        protection.self_excluded_until = None
        ended.append("self-exclusion")
    if ended:
        save_with_history(protection, actor=None, reason=f"Period ended: {', '.join(ended)}")
    return len(ended)


def _exclusion_over(player_id: int, now: datetime) -> bool:
    """The player's latest self-exclusion was a fixed term and its period has passed (returned from or not)."""
    last = latest_self_exclusion(player_id=player_id)
    return last is not None and not last.permanent and last.ends_at is not None and last.ends_at <= now


def self_exclusion_assert_returnable(protection: PlayerProtection, player, now: datetime) -> Exclusion:
    """The one rule for a return from self-exclusion, applied to the request, to protection_check honouring a due
    return, and to the task that stores it; returns the exclusion returned from.

    A return is possible only from an exclusion that is the player's own, has ended and was not yet returned from
    (its `reactivated_at` is empty), and never while the same person is self-excluded or barred on any account:
    an account barred because its identity matches a self-excluded person must not come back through an earlier
    exclusion of its own, while the person stays excluded on their other account. UKGC LCCP SR 3.5.4
    (multi-account self-exclusion: it covers every account of the person; GAMSTOP) and RD 1614/2011 art. 26
    (RGIAJ and the operator's own exclusions: a registered person may not take part). The person is matched by
    the players app's identity fingerprints, as at registration and login. Another account whose own period is
    over too (waiting for its own return) does not block: else two ended exclusions of one person would each
    wait for the other's return for ever.

    Raises SelfExcluded (403) while the period lasts or the person is barred or excluded elsewhere, InvalidState
    (409) when the account is not self-excluded or has no ended exclusion of its own to return from.
    """
    if self_exclusion_active(protection, now):
        raise SelfExcluded("The self-exclusion has not ended yet and cannot be lifted early.", details=exclusion_details(protection, now))
    if player.status != PlayerStatus.SELF_EXCLUDED:
        raise InvalidState("This account is not self-excluded.", details={"status": player.status})
    player_assert_not_legally_barred(player)
    for other in player_same_person_excluded_accounts(player=player):
        if other.legally_barred_at is not None or not _exclusion_over(other.pk, now):
            raise SelfExcluded(
                "You are self-excluded on another account; this one stays excluded while that exclusion lasts.",
                details={"reason": "identity_excluded"},
            )
    last = latest_self_exclusion(player_id=player.pk)
    if (
        last is None or last.permanent or last.ended_at is None or last.end_reason != ExclusionEnd.EXPIRED
        or last.reactivated_at is not None
    ):
        # E.g. a bar imposed outside this app (a national register, another account of the person), or an exclusion
        # the player already returned from: no ended period of the player's own to return from.
        raise InvalidState("There is no ended self-exclusion to return from.")
    return last


@transaction.atomic
def self_exclusion_reactivate(*, player) -> PlayerProtection:
    """The player asks to return after the self-exclusion period has ended (positive action, UKGC LCCP SR 3.5.3).

    The status returns to active after the one-day cooling-off; before the period ends nobody,
    not the player and not staff, can end it. Refused here rather than left to the status change (see
    self_exclusion_assert_returnable), so no cooling-off starts that protection_check would honour.
    """
    protection = lock_protection(player.pk)
    now = clock.now()
    if not self_exclusion_active(protection, now):
        _end_expired_locked(protection, now)  # the period is over: its row ends now if the task has not ended it yet
    last = self_exclusion_assert_returnable(protection, fresh_player(player), now)
    if protection.reactivation_requested_at is not None:
        return protection
    protection.reactivation_requested_at = now
    save_with_history(
        protection, actor=player.user, reason="Player asked to return after the self-exclusion ended; one-day cooling-off started"
    )
    last.reactivation_requested_at = now
    save_with_history(last, actor=player.user, reason="Player asked to return")
    return protection


def _complete_reactivation_locked(protection: PlayerProtection, player, now: datetime):
    """Store a return whose cooling-off has passed: the status the player had before the exclusion
    comes back (active, or a suspension staff imposed). Returns the updated player or None.

    The return took effect when the cooling-off ended (protection_check already lets the player play
    from then on), so that is the moment recorded, not the moment this runs.
    """
    if not return_due(protection, now):
        return None
    returned_at = protection.reactivation_requested_at + return_cooling_off()
    reactivated = None
    if player.status == PlayerStatus.SELF_EXCLUDED:
        reason = "Self-exclusion ended; the player asked to return and the one-day cooling-off has passed"
        try:
            self_exclusion_assert_returnable(protection, player, now)
            if status_after_return(protection) == PlayerStatus.SUSPENDED:
                reactivated = player_return_suspended(
                    player=player, actor=player.user, reason="Self-exclusion over; the earlier suspension stands"
                )
            else:
                reactivated = player_reactivate(player=player, actor=player.user, reason=reason)
        except (SelfExcluded, InvalidState) as refused:
            # A national register barred them, or the person self-excluded on another account, after they asked
            # (the players app also refuses a barred player's status change; its savepoint rolled back). That
            # overrides the request as a new exclusion would: once it no longer holds they ask again. Cleared so
            # the task does not retry it every run.
            protection.reactivation_requested_at = None
            why = _REFUSALS.get(refused.details.get("reason", ""), "no ended self-exclusion to return from")
            save_with_history(protection, actor=None, reason=f"Return refused: {why}")
            return None
    protection.reactivation_requested_at = None
    protection.status_before_exclusion = ""
    save_with_history(protection, actor=player.user, reason="Return from self-exclusion completed")
    last = latest_self_exclusion(player_id=protection.player_id)
    if last is not None and last.reactivated_at is None and reactivated is not None:
        last.reactivated_at = returned_at
        save_with_history(last, actor=player.user, reason="Player reactivated")
    return reactivated


def reactivation_complete_due(*, now: datetime | None = None) -> int:
    """Reactivate every player whose return cooling-off has passed; returns how many."""
    now = now or clock.now()
    due = PlayerProtection.objects.filter(reactivation_requested_at__lte=now - return_cooling_off()).values_list("player_id", flat=True)
    return sum(_complete_reactivation_for(player_id=player_id, now=now) for player_id in list(due))


@transaction.atomic
def _complete_reactivation_for(*, player_id: int, now: datetime) -> int:
    protection = lock_protection(player_id)
    player = player_by_public_id(protection.player.public_id)
    return int(_complete_reactivation_locked(protection, player, now) is not None)

