"""Schedule the daily national-register batch (RGIAJ for dgoj) as a django_celery_beat row, editable in the admin."""

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

NAME = "players: national register daily check"


def create_schedule(apps, schema_editor):
    ensure_periodic_task(
        apps, schema_editor, name=NAME, task="apps.players.tasks.national_register_daily_check", crontab={"minute": "0", "hour": "5"},
        description="Bars every open account the market's national self-exclusion register names (RGIAJ, GAMSTOP); idempotent.",
    )


def remove_schedule(apps, schema_editor):
    remove_periodic_tasks(apps, schema_editor, NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0009_legally_barred"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
