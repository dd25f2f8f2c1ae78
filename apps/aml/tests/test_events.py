"""Ledger events to Redis Streams (db 5, a fresh prefix per test): from the watermark, at least once, replayable."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import redis
from django.core.management import call_command

from apps.aml import events
from apps.aml.models import Watermark

from .conftest import T0

pytestmark = pytest.mark.django_db

URL = "redis://127.0.0.1:6379/5"


@pytest.fixture
def publisher():
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    target = events.RedisStreamsPublisher(url=URL, prefix=prefix)
    yield target
    keys = list(target.client.scan_iter(f"{prefix}*"))
    if keys:
        target.client.delete(*keys)


def _stream(publisher, event_type: str) -> list[dict]:
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in publisher.client.xrange(publisher.stream(event_type))]


def _relay(publisher, at):
    import time_machine

    with time_machine.travel(at, tick=False):
        return events.events_relay(target=publisher)


def test_every_transaction_goes_to_its_types_stream_once(player, post, publisher):
    deposit = post("deposit", player, "25.00")
    bet = post("bet", player, "5.00", at=T0 + timedelta(minutes=1))
    assert _relay(publisher, T0 + timedelta(minutes=2)) == 2
    [sent] = _stream(publisher, "ledger.deposit")
    assert sent["transaction_id"] == str(deposit.pk) and sent["type"] == "ledger.deposit"
    payload = json.loads(sent["payload"])
    assert payload["kind"] == "deposit" and {e["amount_minor"] for e in payload["entries"]} == {2500, -2500}
    assert [e["transaction_id"] for e in _stream(publisher, "ledger.bet")] == [str(bet.pk)]
    # the overlap window is read again, but nothing is sent twice
    assert _relay(publisher, T0 + timedelta(minutes=3)) == 0
    assert len(_stream(publisher, "ledger.deposit")) == 1
    assert Watermark.objects.get(name=events.EVENTS_WATERMARK).last_id == bet.pk


def test_a_late_committing_smaller_id_inside_the_overlap_is_still_sent(player, post, publisher):
    first = post("deposit", player, "1.00")
    second = post("deposit", player, "2.00")
    # As if `first` had committed after the relay read `second`: the watermark already stands past it.
    Watermark.objects.create(name=events.EVENTS_WATERMARK, last_id=second.pk)
    _relay(publisher, T0 + timedelta(minutes=1))
    assert {e["transaction_id"] for e in _stream(publisher, "ledger.deposit")} == {str(first.pk), str(second.pk)}


def test_a_failed_publish_moves_no_watermark(player, post):
    post("deposit", player, "1.00")

    class Down:
        def publish(self, batch, *, force=False):
            raise redis.ConnectionError("broker down")

    with pytest.raises(redis.ConnectionError):
        events.events_relay(target=Down())
    assert not Watermark.objects.filter(name=events.EVENTS_WATERMARK, last_id__gt=0).exists()


def test_replay_from_any_id_sends_again(player, post, publisher, monkeypatch):
    txns = [post("deposit", player, "1.00", at=T0 + timedelta(minutes=i)) for i in range(3)]
    _relay(publisher, T0 + timedelta(minutes=5))
    monkeypatch.setattr(events, "publisher", lambda: publisher)
    call_command("aml_events_replay", str(txns[1].pk))
    ids = [e["transaction_id"] for e in _stream(publisher, "ledger.deposit")]
    assert ids == [str(t.pk) for t in txns] + [str(txns[1].pk), str(txns[2].pk)]  # consumers dedup by transaction_id


def test_no_publisher_configured_relays_nothing(settings, player, post):
    settings.AML_EVENTS_PUBLISHER = ""
    post("deposit", player, "1.00")
    assert events.events_relay() == 0
