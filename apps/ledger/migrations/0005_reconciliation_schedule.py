"""The nightly ledger reconciliation, as a django-celery-beat row editable in the admin.

03:30 UTC: after the day's settlement and before the regulator's 04:00 deadline for daily files.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "ledger: nightly reconciliation"
TASK = "apps.ledger.tasks.reconcile_ledger"


def create_schedule(apps, schema_editor):
    db = schema_editor.connection.alias
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab, _ = CrontabSchedule.objects.using(db).get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.using(db).get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "crontab": crontab,
            "enabled": True,
            "description": "Runs verify_ledger: balanced transactions, cached balances equal to entries, no negative "
            "player balance. A breach is logged at ERROR. Read-only.",
        },
    )
    PeriodicTasks.objects.using(db).update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.using(schema_editor.connection.alias).filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_adjust_permission_statement_index_shards"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
