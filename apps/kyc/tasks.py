"""Scheduled KYC work.

The schedule is a django-celery-beat row created by migration 0002 ("kyc: expire approvals with lapsed
identity documents", daily 02:00 UTC), so compliance can see and change it in the admin.
"""

from celery import shared_task

from .services import kyc_expire_due


@shared_task(name="apps.kyc.tasks.expire_kyc_cases")
def expire_kyc_cases() -> int:
    """Move approvals whose identity document has lapsed to expired; running it twice expires nothing twice."""
    return kyc_expire_due()
