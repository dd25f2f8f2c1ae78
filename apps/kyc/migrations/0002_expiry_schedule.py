"""The daily KYC expiry run, as a django-celery-beat row so compliance can see and change it in the admin.

02:00 UTC: after midnight, when the previous day's identity document expiries have become due.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "kyc: expire approvals with lapsed identity documents"
TASK = "apps.kyc.tasks.expire_kyc_cases"


def create_schedule(apps, schema_editor):
    db = schema_editor.connection.alias
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab, _ = CrontabSchedule.objects.using(db).get_or_create(
        minute="0", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.using(db).get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "crontab": crontab,
            "enabled": True,
            "description": "Moves approved KYC cases whose identity document expired to 'expired' (apps.kyc.services.kyc_expire_due). Idempotent.",
        },
    )
    # Tell a running beat to reload its schedule (signals do not fire for historical models).
    PeriodicTasks.objects.using(db).update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.using(schema_editor.connection.alias).filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("kyc", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
