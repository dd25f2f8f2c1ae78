"""Scheduled ledger work.

The nightly reconciliation is a django-celery-beat row created by migration 0005 ("ledger: nightly
reconciliation", 03:30 UTC), so finance and compliance can see and move it in the admin.
"""

import logging

from celery import shared_task

from .checks import verify_ledger

logger = logging.getLogger(__name__)


@shared_task(name="apps.ledger.tasks.reconcile_ledger")
def reconcile_ledger() -> dict:
    """Prove the ledger's invariants every night; a breach is logged at ERROR, where on-call alerting listens.

    Read-only, so running it twice is harmless. The summary is the task's result for the beat log.
    """
    report = verify_ledger()
    summary = {
        "ok": report.ok,
        "transactions": report.transactions,
        "entries": report.entries,
        "accounts": report.accounts,
        "breaches": report.breaches,
    }
    if report.ok:
        logger.info("Ledger reconciliation OK: %s transactions, %s entries.", report.transactions, report.entries)
    else:
        logger.error("Ledger reconciliation found %s breach(es): %s", len(report.breaches), report.breaches)
    return summary
