"""Celery tasks of AML: thin, idempotent (every one may run twice or late), ids in, services do the work.

Schedules are django-celery-beat rows created by migration 0002, editable by compliance in the admin:
"aml: monitoring sweep" (every 5 minutes), "aml: relay ledger events" (every minute) and
"aml: re-screen when the list changed" (daily 04:00 UTC).
"""

from __future__ import annotations

from celery import shared_task

from . import events, screening, services


@shared_task(name="apps.aml.tasks.evaluate_transactions")
def evaluate_transactions(transaction_ids: list[int]) -> int:
    """Near-real-time: every rule as of each posting, for the postings a web process committed within one batch
    window (apps.aml.apps.PostingBatcher), in one set-based pass. Losing this task loses nothing: the sweep reads
    the same postings. Routed to the `aml` queue (CELERY_TASK_ROUTES), so a backlog of these never holds up a
    report or the sweep on the default queue."""
    return len(services.evaluate_transactions(transaction_ids=list(transaction_ids)))


@shared_task(name="apps.aml.tasks.evaluate_transaction")
def evaluate_transaction(transaction_id: int) -> int:
    """One posting: what processes sent before evaluate_transactions; kept so a worker still runs those queued at a deploy."""
    return evaluate_transactions([transaction_id])


@shared_task(name="apps.aml.tasks.monitoring_sweep")
def monitoring_sweep() -> dict:
    result = services.monitoring_sweep()
    return {"from_id": result.from_id, "to_id": result.to_id, "alerts": result.alerts}


@shared_task(name="apps.aml.tasks.screen_player")
def screen_player(player_id: int) -> int:
    return len(screening.screen_players(player_ids=[player_id]))


@shared_task(name="apps.aml.tasks.rescreen_if_list_changed")
def rescreen_if_list_changed() -> int:
    return screening.rescreen_if_list_changed()


@shared_task(name="apps.aml.tasks.relay_events")
def relay_events() -> int:
    return events.events_relay()
