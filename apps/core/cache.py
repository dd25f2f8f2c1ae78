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


# KEYS[1]: this window's counter, KEYS[2]: the previous window's; ARGV[1]: seconds to keep a counter.
WINDOW_HITS_LUA = """
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {hits, tonumber(redis.call('GET', KEYS[2])) or 0}
"""


class _ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, keeping one redis.Redis per connection pool instead of one per call.

    Django builds a new redis.Redis for every get and set (`self._client(connection_pool=pool)`), and redis-py's
    constructor copies its ~170 response callbacks each time: 0.2-0.5 ms of CPU per cache call, two calls per
    throttled request (py-spy/cProfile on GET /wallet, README "Web servers"). A redis.Redis over a pool is
    thread-safe, so one per pool is enough.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis_by_pool: dict[int, Any] = {}
        self._scripts: dict[int, Any] = {}

    def window_script(self, key: Any) -> Any:
        """The throttles' counting script (DegradingRedisCache.window_hits), registered once per client."""
        client = self.get_client(key, write=True)
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(WINDOW_HITS_LUA)
        return script

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._redis_by_pool.get(index)
        if client is None:
            client = self._redis_by_pool[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class DegradingRedisCache(RedisCache):
    _last_logged = 0.0

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusedClientRedisCacheClient

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

    def window_hits(self, key: str, window: int, duration: int) -> tuple[int, int] | None:
        """Counts one hit in fixed window `window` of `key` and returns (hits in it, hits in the one before).

        One round trip and one command (a Lua script: INCR, EXPIRE on the first hit, GET; cheaper in redis-py than
        a pipeline of three): the throttles' sliding-window counter (apps.core.throttling).
        None when Redis is unreachable: the caller lets the request through.
        """
        current, previous = self.window_keys(key, window)
        try:
            hits, before = self._cache.window_script(current)(keys=[current, previous], args=[2 * duration])
        except UNREACHABLE as exc:
            self._degraded("window_hits", exc)
            return None
        return int(hits), int(before)

    def window_keys(self, key: str, window: int) -> tuple[str, str]:
        """The Redis keys of window `window` of `key` and of the one before (prefix and version applied)."""
        return self.make_and_validate_key(f"{key}:{window}"), self.make_and_validate_key(f"{key}:{window - 1}")

    def window_unhit(self, key: str, window: int) -> None:
        """Takes back a hit that was refused, so a client hammering while throttled does not extend its own wait."""
        try:
            self._cache.get_client(key, write=True).decr(self.make_and_validate_key(f"{key}:{window}"))
        except UNREACHABLE as exc:
            self._degraded("window_unhit", exc)

    def clear(self) -> bool:
        """Every key of this cache. With a KEY_PREFIX that is only the keys under it (SCAN, then UNLINK in batches), never
        FLUSHDB: caches that share one Redis database under their own prefixes (each test process has one,
        config/settings/test.py, and `make test` runs two pytest-xdist workers on one database) must not wipe each other's
        keys. Without a prefix (production), FLUSHDB, as Django's RedisCache does."""
        try:
            if not self.key_prefix:
                return super().clear()
            client = self._cache.get_client(write=True)
            # Django's key function: "<prefix>:<version>:<key>". The prefix is escaped for SCAN's glob pattern.
            pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self.key_prefix) + ":*"
            batch: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)
            return True
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
