"""The lock-out answer django-axes renders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory

from apps.players.auth import lockout_response, lockout_retry_after

pytestmark = pytest.mark.django_db


def test_retry_after_counts_down_from_the_latest_failure(time_machine):
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    time_machine.move_to(now)
    attempt = AccessAttempt.objects.create(
        username="late@example.com", ip_address="10.0.0.1", user_agent="t", failures_since_start=5,
        get_data="", post_data="", http_accept="", path_info="/",
    )
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=now - timedelta(minutes=10))  # auto_now_add
    assert lockout_retry_after(username="late@example.com") == 5 * 60
    assert lockout_retry_after(username="nobody@example.com") == 15 * 60


@pytest.mark.parametrize("args", [("original-response", {"email": "a@example.com"}), ({"email": "a@example.com"},)])
def test_lockout_response_accepts_both_axes_signatures(args):
    response = lockout_response(RequestFactory().post("/api/v1/auth/token"), *args)
    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert b'"rate_limited"' in response.content
