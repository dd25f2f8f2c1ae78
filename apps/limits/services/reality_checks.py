"""Reality checks: reminders every n minutes of a session, counted from login."""

from __future__ import annotations

from django.db import transaction

from apps.core import clock
from apps.core.errors import ValidationFailed
from apps.core.history import save_with_history
from apps.limits.models import PlayerProtection

from .lock import ensure_protection, is_int, lock_protection

REALITY_CHECK_MINUTES = (15, 240)

@transaction.atomic
def reality_check_set(*, player, minutes: int | None) -> PlayerProtection:
    """Remind the player every `minutes` of play (None switches reminders off)."""
    low, high = REALITY_CHECK_MINUTES
    if minutes is not None and (not is_int(minutes) or not low <= minutes <= high):
        raise ValidationFailed(details={"minutes": [f"Choose a whole number of minutes from {low} to {high}, or null for off."]})
    protection = lock_protection(player.pk)
    if protection.reality_check_minutes != minutes:
        protection.reality_check_minutes = minutes
        reason = f"Reality check every {minutes} minutes" if minutes else "Reality check off"
        save_with_history(protection, actor=player.user, reason=reason)
    return protection


@transaction.atomic
def protection_session_start(*, player) -> None:
    """For the auth code: call at login so reality checks count from the start of this session.

    A plain UPDATE without a history row: logins are not operator-relevant changes and would
    bury the real ones in the history.
    """
    ensure_protection(player.pk)
    PlayerProtection.objects.filter(player_id=player.pk).update(
        session_started_at=clock.now(), reality_check_acknowledged_at=None, updated_at=clock.now()
    )


@transaction.atomic
def reality_check_acknowledge(*, player) -> None:
    """The player saw the reminder; the next one is due at the next interval."""
    ensure_protection(player.pk)
    PlayerProtection.objects.filter(player_id=player.pk).update(reality_check_acknowledged_at=clock.now(), updated_at=clock.now())

