"""Django's connection health check (CONN_HEALTH_CHECKS), at most once a second per connection.

With persistent connections Django checks each one at the start of every request that uses it: a `SELECT 1`
round trip before the request's first query. Under load that is a statement per request for a connection that
answered a few milliseconds before (issue #13: on a round request, one statement of six, and its CPU on both
sides). Here a connection whose check ran less than DB_HEALTH_CHECK_INTERVAL seconds ago skips it. A database
that goes away within that second is found by the request's own first query instead: an OperationalError,
answered 503 with Retry-After (apps.core.api), safe to retry with the same Idempotency-Key; Django then closes
the broken connection at the end of that request (errors_occurred), and the next one connects afresh. An idle
connection is still checked before it is used again.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connections


def skip_recent_health_checks(**kwargs) -> None:
    """request_started, after Django's own close_old_connections (which asks for a check on the next use)."""
    interval = settings.DB_HEALTH_CHECK_INTERVAL
    if interval <= 0:
        return
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or not connection.health_check_enabled or connection.health_check_done:
            continue
        checked_at = connection.__dict__.get("_health_checked_at")
        if checked_at is not None and now - checked_at < interval:
            connection.health_check_done = True
        else:
            connection.__dict__["_health_checked_at"] = now  # the check Django runs at this request's first query
