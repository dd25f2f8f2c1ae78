"""The UKGC quarterly return's schedule (the 1st of the month after each quarter, UK time), and the
sweeper's description with its new threshold (REPORTS_STALE_AFTER_MINUTES, 40 by default: a DGOJ daily
file whose worker died at 02:15 Madrid time is queued again before the 04:00 deadline)."""

import json

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

NAME = "reports: ukgc_quarterly"
SWEEPER = "reports: fail and re-queue stale runs"


def create(apps, schema_editor):
    db = schema_editor.connection.alias
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    ensure_periodic_task(
        apps, schema_editor, name=NAME, task="apps.reports.tasks.scheduled_report",
        crontab={"minute": "0", "hour": "6", "day_of_month": "1", "month_of_year": "1,4,7,10", "timezone": "Europe/London"},
        description="Produces ukgc_quarterly for the quarter just ended (Europe/London).",
    )
    PeriodicTask.objects.using(db).filter(name=NAME, kwargs="{}").update(
        kwargs=json.dumps({"report_type": "ukgc_quarterly", "schedule_name": NAME})
    )
    PeriodicTask.objects.using(db).filter(name=SWEEPER).update(
        description="A run still running 40 minutes (REPORTS_STALE_AFTER_MINUTES) after it started belongs to a dead worker: "
        "fail it and queue it again, in time for the 04:00 deadline of the daily files."
    )


def remove(apps, schema_editor):
    remove_periodic_tasks(apps, schema_editor, NAME)


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_report_schedules")]

    operations = [migrations.RunPython(create, remove)]
