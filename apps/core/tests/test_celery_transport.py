"""kombu's Redis transport with one publishing client per channel (apps/core/celery_transport.py), on the real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import redis
from django.conf import settings
from kombu import Connection, Exchange, Queue

from apps.core import celery_transport

ROOT = Path(__file__).resolve().parents[3]


def test_messages_published_through_the_transport_arrive_and_reuse_one_client(monkeypatch):
    built = []
    original = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    name = f"transport-test-{uuid.uuid4().hex[:12]}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with Connection(settings.REDIS_URL, transport=celery_transport.Transport) as conn:
        channel = conn.channel()
        assert isinstance(channel, celery_transport.Channel)
        producer = conn.Producer(channel)
        for n in range(20):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key=name, declare=[queue], serializer="json")
        publishing = len(built)
        received = []
        with conn.SimpleQueue(queue) as simple:
            for _ in range(20):
                message = simple.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
        channel.close()
    assert received == list(range(20))
    assert publishing <= 2  # kombu's own transport builds one per message (20 here)


def test_a_redis_broker_selects_the_transport_and_others_keep_kombus():
    code = (
        "import django; django.setup(); from config.celery import app; "
        "print(type(app.connection_for_write().default_channel).__module__)"
    )

    def channel_module(broker: str) -> str:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "CELERY_BROKER_URL": broker}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    assert channel_module(settings.REDIS_URL) == "apps.core.celery_transport"
    assert channel_module("memory://") == "kombu.transport.memory"
