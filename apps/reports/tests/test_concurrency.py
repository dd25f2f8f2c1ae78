"""Concurrent requests for the same type and period, with real threads against PostgreSQL."""

from __future__ import annotations

import pytest

from apps.ledger.tests.conftest import run_together
from apps.reports.models import ReportRun
from apps.reports.services import report_run_request

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_first_requests_get_distinct_versions():
    results = run_together(4, lambda i: report_run_request(report_type="ggr_daily", period="2026-11-10", enqueue=False))
    assert all(isinstance(r, ReportRun) for r in results), results
    assert sorted(r.version for r in results) == [1, 2, 3, 4]
    assert ReportRun.objects.filter(report_type="ggr_daily", period="2026-11-10").count() == 4
