"""Schedule the responsible-gaming housekeeping as django_celery_beat rows, so compliance can edit them in the admin."""

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

TASKS = [
    ("limits: end expired exclusions", "apps.limits.tasks.end_expired_exclusions"),
    ("limits: activate pending limits", "apps.limits.tasks.activate_pending_limits"),
]


def create_schedules(apps, schema_editor):
    for name, task in TASKS:
        ensure_periodic_task(
            apps, schema_editor, name=name, task=task, every_minutes=15, description="Idempotent; see apps/limits/tasks.py."
        )


def remove_schedules(apps, schema_editor):
    remove_periodic_tasks(apps, schema_editor, *(name for name, _ in TASKS))


class Migration(migrations.Migration):
    dependencies = [
        ("limits", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
