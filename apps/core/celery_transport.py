"""kombu's Redis transport, keeping one publishing client per channel instead of building one per message.

kombu's Redis channel builds a new `redis.Redis` for every message it publishes (`conn_or_acquire` without a
client calls `_create_client`). redis-py's client constructor fills a case-insensitive table of ~170 response
callbacks each time: on a round or a provider bet that was about half of the CPU of the AML task each posting
enqueues after commit (apps.aml.apps.enqueue; bench/profiles). The client holds no connection of its own (it
borrows one from the channel's pool per command) and is safe to share between threads, so one per channel does
the same work. Consuming (BRPOP, pub/sub) keeps kombu's own asynchronous clients untouched.

Selected by CELERY_BROKER_TRANSPORT for redis:// brokers (config/settings/base.py); the URL is parsed as before.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _publishing_client = None

    def _create_client(self, asynchronous: bool = False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        if self._publishing_client is None:
            self._publishing_client = super()._create_client()
        return self._publishing_client

    def close(self) -> None:
        self._publishing_client = None
        super().close()


class Transport(kombu_redis.Transport):
    Channel = Channel
