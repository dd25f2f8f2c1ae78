"""The Redis cache, degrading instead of failing when Redis is unreachable.

The cache holds nothing that must survive (throttle counters, nothing of money: money is in
PostgreSQL). With Django's RedisCache an unreachable Redis raised on every throttled request, so
every login, refresh and registration answered 500. Here a connection error is logged (at most
once a minute per process, not once per request) and the call answers as a cache miss: reads
return the default, writes report nothing stored, and throttles let the request through.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
LOG_EVERY_SECONDS = 60.0


_CLIENTS: dict[tuple, RedisCacheClient] = {}
_CLIENTS_LOCK = threading.Lock()


class DegradingRedisCache(RedisCache):
    _last_logged = 0.0

    @cached_property
    def _cache(self) -> RedisCacheClient:
        """One client, and so one connection pool, per process and location.

        Django keeps a cache object per request context under ASGI (its cache handler is context-local, not
        thread-local), and each object built its own client: every request opened a new TCP connection to
        Redis for its throttle check. redis-py's pools are thread-safe and reopen after a fork.
        """
        key = (tuple(self._servers), tuple(sorted((k, repr(v)) for k, v in self._options.items())))
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                client = _CLIENTS[key] = self._class(self._servers, **self._options)
        return client

    def _degraded(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - DegradingRedisCache._last_logged >= LOG_EVERY_SECONDS:
            DegradingRedisCache._last_logged = now
            logger.error("Redis unreachable (%s: %s); the cache answers as empty and throttling is off until it is back.", operation, exc)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except UNREACHABLE as exc:
            self._degraded("get", exc)
            return default

    def get_many(self, keys: Any, version: int | None = None) -> dict:
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as exc:
            self._degraded("get_many", exc)
            return {}

    def has_key(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().has_key(key, version)
        except UNREACHABLE as exc:
            self._degraded("has_key", exc)
            return False

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        try:
            super().set(key, value, timeout, version)
        except UNREACHABLE as exc:
            self._degraded("set", exc)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as exc:
            self._degraded("add", exc)
            return False

    def set_many(self, data: dict, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list:
        try:
            return super().set_many(data, timeout, version)
        except UNREACHABLE as exc:
            self._degraded("set_many", exc)
            return list(data)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            return super().touch(key, timeout, version)
        except UNREACHABLE as exc:
            self._degraded("touch", exc)
            return False

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().delete(key, version)
        except UNREACHABLE as exc:
            self._degraded("delete", exc)
            return False

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        try:
            super().delete_many(keys, version)
        except UNREACHABLE as exc:
            self._degraded("delete_many", exc)

    def clear(self) -> bool:
        try:
            return super().clear()
        except UNREACHABLE as exc:
            self._degraded("clear", exc)
            return False


def redis_cache(location: str, **extra: Any) -> dict[str, Any]:
    """The CACHES entry for Redis: short socket timeouts, so an unreachable Redis costs a request little."""
    return {
        "BACKEND": "apps.core.cache.DegradingRedisCache",
        "LOCATION": location,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        **extra,
    }


def redis_channel_layer(location: str, **extra: Any) -> dict[str, Any]:
    """The CHANNEL_LAYERS entry for Redis (channels-redis), with a short connect timeout.

    A refused or unreachable Redis then fails a push within a second instead of hanging the request that
    posted (apps/backoffice/realtime.py logs it and pauses pushing). No read timeout: the layer's own
    receive blocks on Redis for several seconds by design.
    """
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": location, "socket_connect_timeout": 1}], **extra},
    }
