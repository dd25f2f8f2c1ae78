"""The daily KYC expiry run, as a django-celery-beat row so compliance can see and change it in the admin.

02:00 UTC: after midnight, when the previous day's identity document expiries have become due.
"""

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

TASK_NAME = "kyc: expire approvals with lapsed identity documents"


def create_schedule(apps, schema_editor):
    ensure_periodic_task(
        apps,
        schema_editor,
        name=TASK_NAME,
        task="apps.kyc.tasks.expire_kyc_cases",
        crontab={"minute": "0", "hour": "2"},
        description="Moves approved KYC cases whose identity document expired to 'expired' "
        "(apps.kyc.services.kyc_expire_due). Idempotent.",
    )


def remove_schedule(apps, schema_editor):
    remove_periodic_tasks(apps, schema_editor, TASK_NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("kyc", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
