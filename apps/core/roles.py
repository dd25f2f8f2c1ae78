"""Roles over the shared machinery: the schedules of the periodic tasks (django-celery-beat).

Compliance owns when the regulatory and protection jobs run (KYC expiry, exclusion ends, the nightly
ledger reconciliation, and later the regulatory reports), so it may edit their schedules. Operators
can see them; support has no business there.
"""

ROLE_PERMISSIONS = {
    "compliance": [
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.view_crontabschedule",
        "django_celery_beat.add_crontabschedule",
        "django_celery_beat.change_crontabschedule",
        "django_celery_beat.view_intervalschedule",
        "django_celery_beat.add_intervalschedule",
        "django_celery_beat.change_intervalschedule",
        # Exports leave the system with personal and financial data: compliance takes them and audits
        # who else did (GDPR art. 30); support answers players and never takes bulk data out.
        "core.view_dataexport",
        "core.export_players",
        "core.export_payments",
        "core.export_ledger",
    ],
    "operator": ["django_celery_beat.view_periodictask", "core.export_players", "core.export_payments", "core.export_ledger"],
}
