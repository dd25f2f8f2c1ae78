"""The nightly ledger reconciliation, as a django-celery-beat row editable in the admin.

03:30 UTC: after the day's settlement and before the regulator's 04:00 deadline for daily files.
"""

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

TASK_NAME = "ledger: nightly reconciliation"


def create_schedule(apps, schema_editor):
    ensure_periodic_task(
        apps,
        schema_editor,
        name=TASK_NAME,
        task="apps.ledger.tasks.reconcile_ledger",
        crontab={"minute": "30", "hour": "3"},
        description="Runs verify_ledger: balanced transactions, cached balances equal to entries, no negative "
        "player balance. A breach is logged at ERROR. Read-only.",
    )


def remove_schedule(apps, schema_editor):
    remove_periodic_tasks(apps, schema_editor, TASK_NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_adjust_permission_statement_index_shards"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
