"""One call of a hot statement as a prepared statement, sent through libpq directly: the posting's and the round's path.

The project binds parameters client-side (Django's default: several statements can share one round trip,
apps.limits.services.lock needs that). For the few one-statement calls that run once per posting or round
(ledger_post, games_round_post, the round's session read) that meant PostgreSQL parsing and planning each call
again, and psycopg's Python layers (cursor, generators, per-parameter dumpers) cost the client about 0.4 ms of
CPU per posting: more than the PL/pgSQL function took on the server. On a two-core machine where the web
processes and PostgreSQL share the cores, that client CPU was the bound on postings per second.

Here each statement is prepared once per connection (libpq PQprepare) and then run with PQexecPrepared,
the parameters sent as text that this module encodes itself (the statement's own casts give PostgreSQL the
types). libpq releases the GIL while it waits. The answer row is read with psycopg's own loaders for the
connection, so callers get the same Python values a cursor would give them. Errors become psycopg's errors
and then Django's (wrap_database_errors), and Django's query log (DEBUG, the tests' query counts) still sees
every call. PostgreSQL only: other databases never reach these statements.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Sequence
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import errors, pq
from psycopg.adapt import Transformer
from psycopg.types.json import Json, Jsonb

logger = logging.getLogger("django.db.backends")

# %s-style SQL -> (statement name, $n-style SQL). Names derive from the text, so every connection agrees.
_statements: dict[str, tuple[bytes, bytes]] = {}


_PLACEHOLDER = re.compile(r"%[%s]")


def _statement(sql: str) -> tuple[bytes, bytes]:
    known = _statements.get(sql)
    if known is None:
        count = itertools.count(1)
        # %s is the next parameter; %% a literal % (how Django writes one for psycopg's client-side binding).
        numbered = _PLACEHOLDER.sub(lambda m: "%" if m.group() == "%%" else f"${next(count)}", sql)
        name = "dbcall_" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:16]
        known = _statements[sql] = (name.encode(), numbered.encode())
    return known


def _array_element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encode(value) -> bytes | None:
    """A parameter in PostgreSQL's text input format (the statement's casts say which type to read it as)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):  # before int: bool is an int
        return b"t" if value else b"f"
    if isinstance(value, int | Decimal):
        return str(value).encode()
    if isinstance(value, float):
        return repr(value).encode()  # shortest text that reads back as the same double
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise TypeError("call_prepared sends aware datetimes only (USE_TZ).")
        return value.isoformat().encode()
    if isinstance(value, datetime.date):
        return value.isoformat().encode()
    if isinstance(value, list | tuple):
        return ("{" + ",".join(_array_element(item) for item in value) + "}").encode()
    if isinstance(value, Json | Jsonb):  # what connection.ops.adapt_json_value returns
        return (value.dumps or json.dumps)(value.obj).encode()
    raise TypeError(f"call_prepared cannot send a {type(value).__name__}.")


def _failed(raw, result) -> Exception:
    """The error psycopg's cursor would have raised for this result."""
    if raw.pgconn.status == pq.ConnStatus.BAD:
        # The connection is gone (killed, server down): psycopg's cursor raises OperationalError, which the
        # API answers with 503 and Django's health check replaces the connection for the next request.
        return errors.OperationalError(result.get_error_message(raw.info.encoding) or "the connection was lost")
    if result.status == pq.ExecStatus.FATAL_ERROR:
        return errors.error_from_result(result, encoding=raw.info.encoding)
    return errors.InternalError(f"unexpected result status {result.status}")  # pragma: no cover - one statement, one row set


def call_prepared(sql: str, params: Sequence) -> tuple | None:
    """Run `sql` (one statement, %s placeholders) as a prepared statement; return its first row (or None)."""
    rows = rows_prepared(sql, params)
    return rows[0] if rows else None


def fetch(sql: str, params: Sequence) -> list[tuple]:
    """`sql`'s rows: prepared through libpq on PostgreSQL, through Django's cursor elsewhere (the SQLite demo)."""
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        return rows_prepared(sql, params)
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


def rows_prepared(sql: str, params: Sequence) -> list[tuple]:
    """Run `sql` (one statement, %s placeholders) as a prepared statement; return its rows ([] for a command)."""
    # What connection.cursor() does to get a usable connection, then libpq itself. The wrapper is looked up once:
    # each attribute of django.db.connection is a lookup in a thread- and task-local store.
    db = connections[DEFAULT_DB_ALIAS]
    db.close_if_health_check_failed()
    db.ensure_connection()
    raw = db.connection
    name, numbered = _statement(sql)
    values = [_encode(value) for value in params]
    started = time.monotonic() if db.queries_logged else 0.0
    with db.wrap_database_errors, raw.lock:
        # Inside Django's atomic block psycopg opens the transaction lazily, before a cursor's first statement: the same here.
        raw.wait(raw._start_query())
        pgconn = raw.pgconn
        prepared = raw.__dict__.setdefault("_dbcall_prepared", set())  # per psycopg connection: a new one prepares again
        if name not in prepared:
            result = pgconn.prepare(name, numbered)
            if result.status != pq.ExecStatus.COMMAND_OK:
                raise _failed(raw, result)
            prepared.add(name)
        result = pgconn.exec_prepared(name, values)
        if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            if result.error_field(pq.DiagnosticField.SQLSTATE) == b"26000":  # the statement was deallocated under us
                prepared.discard(name)
            raise _failed(raw, result)
        rows = []
        if result.ntuples:
            loader = Transformer(raw)
            loader.set_pgresult(result)
            rows = loader.load_rows(0, result.ntuples, tuple)
    if db.queries_logged:
        duration = time.monotonic() - started
        db.queries_log.append({"sql": f"{sql} -- prepared, params {list(params)!r}", "time": f"{duration:.3f}"})
        logger.debug("(%.3f) %s; args=%s; alias=%s", duration, sql, params, db.alias)
    return rows
