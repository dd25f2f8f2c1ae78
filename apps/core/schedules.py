"""Periodic-task rows for data migrations: each app schedules its jobs as django-celery-beat rows,
so compliance sees and edits them in the admin instead of in code.

Used from migrations with the historical models (`apps`), so it touches no current model class.
"""

from __future__ import annotations

from django.utils import timezone


def ensure_periodic_task(
    apps,
    schema_editor,
    *,
    name: str,
    task: str,
    description: str,
    crontab: dict[str, str] | None = None,
    every_minutes: int | None = None,
) -> None:
    """Create the task with its schedule unless a row of that name exists (an edited schedule is kept)."""
    if (crontab is None) == (every_minutes is None):
        raise ValueError("Give exactly one of crontab or every_minutes.")
    db = schema_editor.connection.alias
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if crontab is not None:
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        fields = {"minute": "0", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*", "timezone": "UTC"}
        schedule, _ = CrontabSchedule.objects.using(db).get_or_create(**{**fields, **crontab})
        when = {"crontab": schedule}
    else:
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        schedule, _ = IntervalSchedule.objects.using(db).get_or_create(every=every_minutes, period="minutes")
        when = {"interval": schedule}
    PeriodicTask.objects.using(db).get_or_create(name=name, defaults={"task": task, "enabled": True, "description": description, **when})
    # Tell a running beat to reload its schedule (signals do not fire for historical models).
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.using(db).update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_periodic_tasks(apps, schema_editor, *names: str) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.using(schema_editor.connection.alias).filter(name__in=names).delete()
