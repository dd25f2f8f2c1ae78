"""Ledger events out to other systems (BI, fraud tools), relayed from the ledger's own log.

The relay reads transactions past its watermark (with the same overlap window as the AML sweep) and
hands them to a publisher; only when the publisher has taken a batch does the watermark move. Delivery
is at least once: a crash between publishing and saving the watermark publishes again, so every event
carries the transaction id as its dedup key, and the Redis publisher also skips ids it has marked sent.

The publisher is the seam for a large deployment: settings.AML_EVENTS_PUBLISHER names a class with
`publish(events, *, force)`; Kafka would be one more class here, not a change to the relay.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from apps.core import clock
from apps.ledger.models import LedgerTransaction

from .services import read_window, watermark_for_update

logger = logging.getLogger(__name__)

EVENTS_WATERMARK = "events.relay"
BATCH = 1000


@dataclass(frozen=True)
class LedgerEvent:
    transaction_id: int
    type: str  # "ledger.deposit", "ledger.bet", ...
    payload: dict

    @property
    def dedup_key(self) -> str:
        return str(self.transaction_id)


class EventPublisher(Protocol):
    def publish(self, events: list[LedgerEvent], *, force: bool = False) -> int:
        """Deliver the events (in order); `force` re-sends ids already sent (a replay). Returns how many were sent."""


class RedisStreamsPublisher:
    """One Redis stream per event type (`<prefix>ledger.deposit`, ...), consumer-group friendly (XREADGROUP).

    Fields are flat strings: `transaction_id` (the dedup key), `type` and `payload` (JSON).
    A `<prefix>sent:<id>` key, written after XADD, stops the overlap window from sending an id twice.
    """

    def __init__(self, url: str | None = None, prefix: str | None = None, maxlen: int | None = None) -> None:
        import redis

        self.client = redis.Redis.from_url(url or settings.AML_EVENTS_REDIS_URL)
        self.prefix = prefix if prefix is not None else getattr(settings, "AML_EVENTS_PREFIX", "casino:events:")
        self.maxlen = maxlen or getattr(settings, "AML_EVENTS_STREAM_MAXLEN", 1_000_000)
        self.sent_ttl = 7 * 24 * 3600

    def stream(self, event_type: str) -> str:
        return f"{self.prefix}{event_type}"

    def publish(self, events: list[LedgerEvent], *, force: bool = False) -> int:
        if not events:
            return 0
        sent_keys = [f"{self.prefix}sent:{e.dedup_key}" for e in events]
        already = [False] * len(events) if force else [bool(v) for v in self.client.mget(sent_keys)]
        pipe = self.client.pipeline(transaction=False)
        count = 0
        for event, key, done in zip(events, sent_keys, already, strict=True):
            if done:
                continue
            fields = {"transaction_id": event.dedup_key, "type": event.type, "payload": json.dumps(event.payload, separators=(",", ":"))}
            pipe.xadd(self.stream(event.type), fields, maxlen=self.maxlen, approximate=True)
            pipe.set(key, 1, ex=self.sent_ttl)
            count += 1
        pipe.execute()
        return count


def publisher() -> EventPublisher | None:
    """The configured publisher, or None when events are off (the embedded `make run` default without Redis)."""
    dotted = getattr(settings, "AML_EVENTS_PUBLISHER", "")
    if not dotted:
        return None
    return import_string(dotted)()


def ledger_events(*, low: int, high: int | None = None, limit: int = BATCH) -> list[LedgerEvent]:
    qs = LedgerTransaction.objects.filter(id__gt=low).order_by("id").prefetch_related("entries__account")
    if high is not None:
        qs = qs.filter(id__lte=high)
    return [
        LedgerEvent(txn.pk, f"ledger.{txn.kind}", {
            "transaction_id": txn.pk, "kind": txn.kind, "reference": txn.reference, "created_at": txn.created_at.isoformat(),
            "entries": [{"account_id": e.account_id, "account_kind": e.account.kind, "player_id": e.account.player_id,
                         "currency": e.account.currency, "amount_minor": e.amount} for e in txn.entries.all()],
        })
        for txn in qs[:limit]
    ]


def events_relay(*, now: datetime | None = None, target: EventPublisher | None = None) -> int:
    """Publish every ledger transaction since the watermark (and the overlap behind it); returns how many were sent."""
    target = target or publisher()
    if target is None:
        return 0
    now = now or clock.now()
    sent = 0
    with transaction.atomic():
        mark = watermark_for_update(EVENTS_WATERMARK)
        low, high = read_window(mark, now=now)
        while True:
            batch = ledger_events(low=low, high=high)
            if not batch:
                break
            sent += target.publish(batch)
            low = batch[-1].transaction_id
        mark.last_id = max(mark.last_id, high)
        mark.save()
    return sent


def events_replay(*, from_id: int, to_id: int | None = None, target: EventPublisher | None = None) -> int:
    """Publish again from transaction `from_id` (inclusive), ids already sent included; the watermark is untouched."""
    target = target or publisher()
    if target is None:
        raise RuntimeError("No event publisher is configured (AML_EVENTS_PUBLISHER).")
    low, sent = from_id - 1, 0
    while True:
        batch = ledger_events(low=low, high=to_id)
        if not batch:
            return sent
        sent += target.publish(batch, force=True)
        low = batch[-1].transaction_id
