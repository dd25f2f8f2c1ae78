"""Schedule the RTP monitor as a django_celery_beat row, so compliance can see and edit it in the admin."""

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

NAME = "games: refresh stats and flag RTP deviations"


def create_schedule(apps, schema_editor):
    ensure_periodic_task(
        apps, schema_editor, name=NAME, task="apps.games.tasks.refresh_game_stats", every_minutes=60,
        description="Idempotent; see apps/games/stats.py for the test and its confidence.",
    )


def remove_schedule(apps, schema_editor):
    remove_periodic_tasks(apps, schema_editor, NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("games", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
