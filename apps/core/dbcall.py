"""One call of a PL/pgSQL function as a prepared statement: the posting engine's and the round's hot path.

The project binds parameters client-side (Django's default: several statements can share one round trip,
apps.limits.services.lock needs that). For the one-statement calls that run once per posting or round
(ledger_post, games_round_post) that meant quoting every parameter into a fresh SQL string in Python and
PostgreSQL parsing and planning it again each time. Here those calls go through a server-side binding
cursor that prepares the statement on its first use per connection: afterwards each call sends only the
parameters (Bind/Execute), so the client does less per posting and the server skips parse and plan.

The cursor is wrapped like any Django cursor (its errors become django.db errors and mark the connection
for the health check, queries are logged under DEBUG and counted by the tests), so callers see no
difference. PostgreSQL only: other databases never reach these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

_ONLY_WHEN_ASKED = 2**31 - 1


class _PreparedCursor(psycopg.Cursor):
    """Server-side binding, and every execute prepared (psycopg keeps the prepared statements per connection)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)

    def _send_query_prepared(self, name, pgq, *, binary=None):
        # psycopg records the query it ran only when it sends its text; Django's query log (DEBUG, the tests' query
        # counts) reads it from there, so a call of an already prepared statement would be logged without its SQL.
        self._query = pgq
        return super()._send_query_prepared(name, pgq, binary=binary)


def call_prepared(sql: str, params: Sequence) -> tuple | None:
    """Run `sql` (one statement, %s placeholders) as a prepared statement; return its first row."""
    # What connection.cursor() does, with our cursor class instead of the connection's ClientCursor. The wrapper is
    # looked up once: each attribute of django.db.connection is a lookup in a thread- and task-local store.
    db = connections[DEFAULT_DB_ALIAS]
    db.close_if_health_check_failed()
    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:
        # Django's default (OPTIONS prepare_threshold unset) turns psycopg's preparing off altogether, even when asked.
        # Its own cursors bind client-side and never prepare; a threshold out of reach keeps it so for any other
        # server-side binding cursor, and lets ours prepare because it asks.
        raw.prepare_threshold = _ONLY_WHEN_ASKED
    with db.wrap_database_errors:
        cursor = db._prepare_cursor(_PreparedCursor(raw))
    with cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
