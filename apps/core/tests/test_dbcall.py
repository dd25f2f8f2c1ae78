"""apps.core.dbcall: libpq's prepared calls answer exactly as Django's cursor would (PostgreSQL only)."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.dbcall import call_prepared

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared calls are PostgreSQL's"),
]

ECHO = (
    "SELECT %s::text, %s::bigint, %s::float8, %s::timestamptz, %s::bigint[], %s::text[], %s::jsonb, %s::boolean, "
    "%s::numeric, %s::date, %s::text, %s::integer[]"
)
AWKWARD_TEXTS = ['plain', 'a "quoted" word', "back\\slash", "comma, and {braces}", "NULL", "", "Zoë – 東京 🎲", "new\nline"]


def _cursor(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_every_parameter_type_reads_back_as_the_cursor_reads_it(text):
    params = [
        text, -(2**62), 0.1 + 0.2, datetime.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=zoneinfo.ZoneInfo("Europe/Malta")),
        [3, -1, 2**40], [text, None, "x"], connection.ops.adapt_json_value({"name": text, "n": [1, 2.5, None]}, None), True,
        Decimal("-12345.678900"), datetime.date(2026, 12, 1), None, [],
    ]
    assert call_prepared(ECHO, params) == _cursor(ECHO, params)


def test_no_row_is_none_and_the_statement_is_prepared_once_per_connection():
    assert call_prepared("SELECT 1 WHERE %s::boolean", [False]) is None
    for n in range(3):
        assert call_prepared("SELECT %s::integer + 1", [n]) == (n + 1,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::integer + 1%%'")
        assert cursor.fetchone() == (1,)


def test_inside_an_atomic_block_the_call_is_part_of_the_transaction():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE dbcall_probe (n integer UNIQUE)")
    try:
        with transaction.atomic():
            call_prepared("INSERT INTO dbcall_probe VALUES (%s) RETURNING n", [1])
            with pytest.raises(IntegrityError), transaction.atomic():  # psycopg's error, as Django's
                call_prepared("INSERT INTO dbcall_probe VALUES (%s) RETURNING n", [1])
            assert call_prepared("SELECT count(*) FROM dbcall_probe WHERE n = %s", [1]) == (1,)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert _cursor("SELECT count(*) FROM dbcall_probe", []) == (0,)  # the call was rolled back with the block


def test_the_call_is_in_djangos_query_log():
    with CaptureQueriesContext(connection) as captured:
        call_prepared("SELECT %s::text", ["logged"])
    assert len(captured) == 1 and "SELECT %s::text" in captured[0]["sql"] and "logged" in captured[0]["sql"]


def test_a_value_it_cannot_send_is_refused_before_anything_is_sent():
    with pytest.raises(TypeError):
        call_prepared("SELECT %s::text", [object()])
    with pytest.raises(TypeError):
        call_prepared("SELECT %s::timestamptz", [datetime.datetime(2026, 1, 1)])  # naive: the project is USE_TZ


def test_rows_literal_percent_signs_and_commands():
    from apps.core.dbcall import fetch

    # Django writes a literal % as %% for psycopg's client-side binding: the prepared text must read it as %.
    assert fetch("SELECT %s::text LIKE 'a%%', 'x%%y'", ["abc"]) == [(True, "x%y")]
    assert _cursor("SELECT %s::text LIKE 'a%%', 'x%%y'", ["abc"]) == (True, "x%y")
    assert fetch("SELECT n FROM generate_series(1, %s) AS n", [3]) == [(1,), (2,), (3,)]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE dbcall_cmd (n integer)")
    assert fetch("INSERT INTO dbcall_cmd VALUES (%s)", [5]) == []  # a command: no rows, no error
    assert fetch("SELECT n FROM dbcall_cmd", []) == [(5,)]
