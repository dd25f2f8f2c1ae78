"""Schedule the responsible-gaming housekeeping as django_celery_beat rows, so compliance can edit them in the admin."""

from django.db import migrations

TASKS = [
    ("limits: end expired exclusions", "apps.limits.tasks.end_expired_exclusions"),
    ("limits: activate pending limits", "apps.limits.tasks.activate_pending_limits"),
]


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_15_minutes, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    for name, task in TASKS:
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "interval": every_15_minutes, "enabled": True, "description": "Idempotent; see apps/limits/tasks.py."},
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _ in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("limits", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
