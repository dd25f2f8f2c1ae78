"""The shipped rules (issue #9's defaults) and the AML schedules as django-celery-beat rows.

Existing rows are left as they are: an officer's tuning survives a re-run of this migration.
"""

from decimal import Decimal

from django.db import migrations

from apps.core.schedules import ensure_periodic_task, remove_periodic_tasks

RULES = [
    {"kind": "deposit_velocity", "score": 40, "count": 5, "window_minutes": 60,
     "description": "5 or more deposits within 60 minutes."},
    {"kind": "large_transaction", "score": 50, "amount_eur": Decimal("5000.00"),
     "description": "A single deposit or withdrawal of 5,000.00 EUR or more."},
    {"kind": "structuring", "score": 70, "count": 3, "window_minutes": 24 * 60, "amount_eur": Decimal("2000.00"), "ratio": Decimal("0.90"),
     "description": "3 or more deposits within 24 h, each between 90 % and 100 % of the due-diligence threshold "
                    "(EU AMLD art. 11(d): 2,000 EUR for gambling)."},
    {"kind": "rapid_cycling", "score": 60, "window_minutes": 7 * 24 * 60, "ratio": Decimal("0.10"),
     "description": "A withdrawal requested when less than 10 % of the last 7 days' deposits was wagered."},
    {"kind": "history_change", "score": 40, "window_minutes": 24 * 60, "lookback_days": 30, "ratio": Decimal("5"),
     "amount_eur": Decimal("200.00"),
     "description": "24 h deposits above 5 × the player's 30-day daily average (the average counts as at least 200.00 EUR; "
                    "a player with no deposits before the 24 h has no history to compare)."},
    {"kind": "shared_identity", "score": 50, "count": 3, "lookback_days": 30,
     "description": "The same device id or public sign-up/payment IP used by 3 or more players within 30 days "
                    "(loopback, private and the operator's proxy addresses never count)."},
    {"kind": "screening", "score": 100, "ratio": Decimal("0.88"),
     "description": "A sanctions/PEP list entry with the same date of birth and a name at least 88 % similar; freezes withdrawals."},
]

TASKS = [
    ("aml: monitoring sweep", "apps.aml.tasks.monitoring_sweep", {"every_minutes": 5}),
    ("aml: relay ledger events", "apps.aml.tasks.relay_events", {"every_minutes": 1}),
    ("aml: re-screen when the list changed", "apps.aml.tasks.rescreen_if_list_changed", {"crontab": {"minute": "0", "hour": "4"}}),
]


def create(apps, schema_editor):
    AmlRule = apps.get_model("aml", "AmlRule")
    db = schema_editor.connection.alias
    for rule in RULES:
        AmlRule.objects.using(db).get_or_create(kind=rule["kind"], defaults=rule)
    for name, task, when in TASKS:
        ensure_periodic_task(apps, schema_editor, name=name, task=task, description="Idempotent; see apps/aml/tasks.py.", **when)


def remove(apps, schema_editor):
    apps.get_model("aml", "AmlRule").objects.using(schema_editor.connection.alias).filter(kind__in=[r["kind"] for r in RULES]).delete()
    remove_periodic_tasks(apps, schema_editor, *(name for name, _, _ in TASKS))


class Migration(migrations.Migration):
    dependencies = [
        ("aml", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
