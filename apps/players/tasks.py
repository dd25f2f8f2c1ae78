"""Periodic player checks. Thin and idempotent: a second run bars nobody twice."""

from __future__ import annotations

from celery import shared_task

from .services import national_register_batch_check


@shared_task(name="apps.players.tasks.national_register_daily_check")
def national_register_daily_check() -> dict[str, int]:
    """Every open account of a market with a national register (RGIAJ, GAMSTOP) against that register, daily."""
    return national_register_batch_check()
