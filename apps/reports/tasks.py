"""Report tasks: thin and idempotent; each beat schedule (migration 0002) asks for the last complete period."""

from celery import shared_task

from .services import report_run_execute, report_run_scheduled, report_run_sweep_stale


@shared_task(name="apps.reports.tasks.execute_report_run", acks_late=True)
def execute_report_run(run_id: int) -> str:
    """Produce one run's file; a redelivered task finds the run no longer queued and does nothing."""
    return report_run_execute(run_id=run_id).status


@shared_task(name="apps.reports.tasks.scheduled_report")
def scheduled_report(report_type: str, schedule_name: str = "") -> int:
    return report_run_scheduled(report_type=report_type, schedule_name=schedule_name or f"reports: {report_type}").pk


@shared_task(name="apps.reports.tasks.sweep_stale_runs")
def sweep_stale_runs() -> int:
    return len(report_run_sweep_stale())
