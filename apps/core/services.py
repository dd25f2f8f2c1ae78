"""Request-level idempotency, shared by every money POST (player wallet, games, providers)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from . import clock
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
    """
    existing = IdempotentRequest.objects.filter(scope=scope, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            record = IdempotentRequest.objects.create(scope=scope, key=key, fingerprint=fingerprint, user=user)
            status_code, body = action()
            record.status_code = status_code
            record.response_body = json.dumps(body, default=str)
            record.save(update_fields=["status_code", "response_body"])
            return status_code, body
    except IntegrityError:
        # A concurrent request with the same key committed first; answer as it did.
        existing = IdempotentRequest.objects.filter(scope=scope, key=key).first()
        if existing is None:
            raise
        return _replay(existing, fingerprint)


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
