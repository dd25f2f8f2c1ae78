"""Django's health check at most once per DB_HEALTH_CHECK_INTERVAL per connection (apps.core.db_health).

The receiver is called directly: sending request_started inside a test's transaction would make Django's own
close_old_connections drop the connection (its autocommit differs from the settings'), which is not the point.
"""

from __future__ import annotations

import pytest
from django.db import connections

from apps.core import db_health

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection():
    """The wrapper itself (django.db.connection is a proxy: monkeypatch would patch and restore through it)."""
    return connections["default"]


@pytest.fixture
def checks(monkeypatch, connection):
    connection.ensure_connection()
    monkeypatch.setattr(connection, "health_check_enabled", True)
    monkeypatch.delitem(connection.__dict__, "_health_checked_at", raising=False)
    ran: list[int] = []
    monkeypatch.setattr(connection, "is_usable", lambda: ran.append(1) or True)
    return ran


def _request(connection) -> None:
    """What a request does to the connection: Django asks for a check, our receiver runs, the first query checks."""
    connection.health_check_done = False
    db_health.skip_recent_health_checks()
    connection.close_if_health_check_failed()


def test_a_connection_checked_within_the_interval_is_not_checked_again(settings, connection, checks, monkeypatch):
    settings.DB_HEALTH_CHECK_INTERVAL = 1.0
    clock = iter([100.0, 100.2, 100.9, 101.5, 101.6])
    monkeypatch.setattr(db_health.time, "monotonic", lambda: next(clock))
    for _ in range(5):
        _request(connection)
    assert len(checks) == 2  # at 100.0 and at 101.5; the requests at 100.2, 100.9 and 101.6 reuse a fresh check


def test_an_interval_of_zero_checks_at_every_request_as_django_does(settings, connection, checks):
    settings.DB_HEALTH_CHECK_INTERVAL = 0
    for _ in range(3):
        _request(connection)
    assert len(checks) == 3


def test_a_connection_that_fails_its_check_is_closed_as_django_closes_it(settings, connection, checks, monkeypatch):
    settings.DB_HEALTH_CHECK_INTERVAL = 60
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or False)
    monkeypatch.setattr(connection, "close", lambda: checks.append(0))
    _request(connection)
    assert checks == [1, 0]  # checked, found broken, closed: Django's behaviour untouched
