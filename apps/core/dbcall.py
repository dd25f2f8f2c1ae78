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


class _PreparedCursor(psycopg.Cursor):
    """Server-side binding, and every execute prepared (psycopg keeps the prepared statements per connection)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def call_prepared(sql: str, params: Sequence) -> tuple | None:
    """Run `sql` (one statement, %s placeholders) as a prepared statement; return its first row."""
    # What connection.cursor() does, with our cursor class instead of the connection's ClientCursor. The wrapper is
    # looked up once: each attribute of django.db.connection is a lookup in a thread- and task-local store.
    db = connections[DEFAULT_DB_ALIAS]
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        cursor = db._prepare_cursor(_PreparedCursor(db.connection))
    with cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
