"""Schedule the markers-of-harm detection (hourly) as a django_celery_beat row compliance can edit in the admin."""

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

NAME = "limits: detect markers of harm"


def create_schedule(apps, schema_editor):
    ensure_periodic_task(
        apps, schema_editor, name=NAME, task="apps.limits.tasks.detect_markers_of_harm", crontab={"minute": "20"},
        description="Opens safer-gambling interactions (net losses, rising deposits); idempotent per player, marker and window.",
    )


def remove_schedule(apps, schema_editor):
    remove_periodic_tasks(apps, schema_editor, NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("limits", "0008_safer_gambling_interactions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
