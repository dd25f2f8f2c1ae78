"""The regulatory report schedules, as django-celery-beat rows compliance edits in the admin.

Times are in the regulator's time zone (Europe/Madrid for DGOJ): the daily files are due by 04:00 the
next day, the monthly ones by 23:59 on the 1st. A sweeper fails and re-queues runs a dead worker left.
The schedule table is frozen here on purpose: a report type added later gets its own migration.
"""

import json

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

SCHEDULES = {
    "ledger_journal_daily": {"minute": "30", "hour": "1"},
    "ggr_daily": {"minute": "45", "hour": "1"},
    "dgoj_rud_daily": {"minute": "0", "hour": "2"},
    "dgoj_cjd_daily": {"minute": "15", "hour": "2"},
    "dgoj_rud_monthly": {"minute": "0", "hour": "5", "day_of_month": "1"},
    "dgoj_cjd_monthly": {"minute": "15", "hour": "5", "day_of_month": "1"},
}
SWEEPER = "reports: fail and re-queue stale runs"


def _name(code: str) -> str:
    return f"reports: {code}"


def create_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for code, crontab in SCHEDULES.items():
        name = _name(code)
        ensure_periodic_task(
            apps,
            schema_editor,
            name=name,
            task="apps.reports.tasks.scheduled_report",
            crontab={**crontab, "timezone": "Europe/Madrid"},
            description=f"Produces {code} for the last complete period (Europe/Madrid). Daily files are due by 04:00.",
        )
        PeriodicTask.objects.using(schema_editor.connection.alias).filter(name=name, kwargs="{}").update(
            kwargs=json.dumps({"report_type": code, "schedule_name": name})
        )
    ensure_periodic_task(
        apps,
        schema_editor,
        name=SWEEPER,
        task="apps.reports.tasks.sweep_stale_runs",
        every_minutes=15,
        description="A run still running two hours after it started belongs to a dead worker: fail it and queue it again.",
    )


def remove_schedules(apps, schema_editor):
    remove_periodic_tasks(apps, schema_editor, SWEEPER, *(_name(code) for code in SCHEDULES))


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
