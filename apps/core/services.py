"""Request-level idempotency, shared by every money POST (player wallet, games, providers)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from . import clock, dbcall
from .errors import IdempotencyConflict
from .models import DataExport, IdempotentRequest

Answer = tuple[int, Any]


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(*, scope: str, key: str, fingerprint: str, action: Callable[[], Answer], user=None) -> Answer:
    """Run `action` once per (scope, key); replay its stored answer for every later identical request.

    Only successful answers are stored: a refused request (limit, funds, KYC) moved nothing,
    so retrying it with the same key simply asks again.

    Two statements around the action, in its transaction: the key is reserved first (INSERT ... ON CONFLICT
    DO NOTHING on the unique (scope, key) index), then the answer is stored on that row. A concurrent request
    with the same key waits on the index until the first one commits (and then replays its answer) or rolls
    back (and then runs itself), as before; a key already used costs the same reservation and one read.
    Plain SQL: these run on every money POST, and the ORM's building of them cost more than the statements.
    """
    with transaction.atomic():
        record_id = _idempotency_reserve(scope=scope, key=key, fingerprint=fingerprint, user_id=getattr(user, "pk", None))
        if record_id is not None:
            status_code, body = action()
            _idempotency_store(record_id=record_id, status_code=status_code, response_body=json.dumps(body, default=str))
            return status_code, body
        # Used before, by a request that committed (the insert waited for it if it was still running).
        existing = IdempotentRequest.objects.filter(scope=scope, key=key).first()
    if existing is None:  # pragma: no cover - the conflicting row committed, so it is there
        raise IntegrityError(f"idempotency record {scope}:{key} conflicted but cannot be read")
    return _replay(existing, fingerprint)


# The table of IdempotentRequest (core_idempotentrequest); quoted identifiers read the same on PostgreSQL and SQLite.
_RESERVE = (
    'INSERT INTO "core_idempotentrequest" ("scope", "key", "fingerprint", "created_at", "user_id") VALUES (%s, %s, %s, %s, %s) '
    'ON CONFLICT ("scope", "key") DO NOTHING RETURNING "id"'
)
_STORE = 'UPDATE "core_idempotentrequest" SET "status_code" = %s, "response_body" = %s WHERE "id" = %s'


def _idempotency_reserve(*, scope: str, key: str, fingerprint: str, user_id: int | None) -> int | None:
    """The new record's id, or None when (scope, key) is taken (by a committed request, once this returns)."""
    created_at = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = dbcall.fetch(_RESERVE, [scope, key, fingerprint, created_at, user_id])
    return rows[0][0] if rows else None


def _idempotency_store(*, record_id: int, status_code: int, response_body: str) -> None:
    dbcall.fetch(_STORE, [status_code, response_body, record_id])


def _replay(record: IdempotentRequest, fingerprint: str) -> Answer:
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(details={"idempotency_key": record.key})
    return record.status_code, json.loads(record.response_body)


# --- Data exports: the record of who took what out (apps.core.exports streams the file) ---


@transaction.atomic
def data_export_start(*, kind: str, user, filters: dict[str, Any]) -> DataExport:
    """Record an export before its first row leaves: a refused or abandoned download is still on record."""
    return DataExport.objects.create(kind=kind, user=user, filters=filters)


@transaction.atomic
def data_export_finish(*, export_id: int, rows: int) -> None:
    """The last row has been sent: how many, and when."""
    DataExport.objects.filter(pk=export_id, completed_at__isnull=True).update(rows=rows, completed_at=clock.now())
