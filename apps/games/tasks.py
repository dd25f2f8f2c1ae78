"""The RTP monitor, run by django_celery_beat (schedule created in migration 0002, editable in the admin).

Thin and idempotent: it recomputes today's and yesterday's statistics from the rounds (yesterday's
late rounds land after midnight's run) and flags the days whose RTP leaves the band (apps.games.stats).
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from . import stats


@shared_task(name="apps.games.tasks.refresh_game_stats")
def refresh_game_stats() -> dict[str, int]:
    today = stats.today()
    return {str(day): stats.stats_refresh(day=day) for day in (today - timedelta(days=1), today)}
