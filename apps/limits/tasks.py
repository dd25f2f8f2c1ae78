"""Periodic responsible-gaming housekeeping. Thin and idempotent: running one twice changes nothing more.

Scheduled by django_celery_beat rows created in migration 0002 (editable in the admin).
"""

from __future__ import annotations

from celery import shared_task

from .services import exclusion_end_due, harm_markers_detect, limit_activate_due, reactivation_complete_due


@shared_task(name="apps.limits.tasks.end_expired_exclusions")
def end_expired_exclusions() -> dict[str, int]:
    """End time-outs and self-exclusions whose period has passed, and finish returns whose cooling-off passed."""
    return {"ended": exclusion_end_due(), "reactivated": reactivation_complete_due()}


@shared_task(name="apps.limits.tasks.activate_pending_limits")
def activate_pending_limits() -> int:
    """Store limit raises and removals whose 24-hour cooling-off has passed (checks also apply them lazily)."""
    return limit_activate_due()


@shared_task(name="apps.limits.tasks.detect_markers_of_harm")
def detect_markers_of_harm() -> int:
    """Open a safer-gambling interaction for each marker of harm found (net losses, rising deposits); see
    apps.limits.services.interactions. Safe to run twice: one interaction per player, marker and window."""
    return harm_markers_detect()
