"""DRF throttles keyed on apps.core.http.client_ip, never on the raw X-Forwarded-For header, counted in Redis.

DRF's own get_ident trusts X-Forwarded-For from anyone unless NUM_PROXIES is set; one setting
(TRUSTED_PROXIES) decides that for the whole project instead. When the cache behind the throttles
(Redis) is unreachable, apps.core.cache.DegradingRedisCache answers empty and the request is allowed:
throttling is abuse protection, not a gate worth refusing logins over.

DRF's SimpleRateThrottle keeps every request's timestamp in a pickled list that it reads and writes back
whole: two Redis round trips and a list as long as the rate (600 entries for "600/min") on every request
(README, "Web servers": the largest cost of GET /wallet after the queries). These count instead: a
sliding-window counter, the estimate `hits in this window + hits in the previous window x the share of it
still inside the last `duration` seconds`, in one pipelined Redis round trip of two integers. The estimate
is exact while the previous window is empty and never lets through more than the rate within any window;
it is what large API gateways use for the same reason.
"""

from __future__ import annotations

import contextlib
import math

from django.core.cache.backends.base import BaseCache
from rest_framework import throttling

from .http import client_ip


class _ClientIpIdent:
    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"


class _SlidingWindowCounter:
    """The counting half of a DRF throttle (scopes, rates and cache keys stay DRF's)."""

    num_requests: int
    duration: int
    cache: BaseCache
    timer = staticmethod(throttling.SimpleRateThrottle.timer)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window, into = divmod(self.now, self.duration)
        self.window = int(window)
        self.into = into / self.duration  # the share of the current window already gone
        counted = _window_hits(self.cache, self.key, self.window, self.duration)
        if counted is None:
            return True  # Redis unreachable: logged by the cache, the request goes through
        self.hits, self.previous = counted
        if over_rate(hits=self.hits, previous=self.previous, into=self.into, num_requests=self.num_requests):
            _window_unhit(self.cache, self.key, self.window)
            self.hits -= 1
            return False
        return True

    def wait(self) -> float:
        """Seconds until the estimate has room for one more request (Retry-After)."""
        room = self.num_requests - 1 - self.hits  # requests the current window can still take without the previous one
        if room >= 0 and self.previous:
            # Within this window: the previous window's weight has to fall to `room`.
            until = 1 - room / self.previous
            if until < 1:
                return _seconds((until - self.into) * self.duration)
        # Into the next window, where this window's hits become the decaying ones.
        next_window = (1 - self.into) * self.duration
        share = 1 - (self.num_requests - 1) / self.hits if self.hits else 0.0
        return _seconds(next_window + max(0.0, share) * self.duration)


def over_rate(*, hits: int, previous: int, into: float, num_requests: int) -> bool:
    """The sliding-window estimate: this window's hits plus the previous window's, weighted by the share of it still
    inside the last `duration` seconds (`into`: the share of this window gone). Shared with apps.payments.fast_wallet."""
    return previous * (1 - into) + hits > num_requests


def _seconds(wait: float) -> float:
    """Whole seconds for Retry-After, at least one (a float a hair above a whole number is that number)."""
    return float(max(1, math.ceil(wait - 1e-6)))


def _window_hits(cache: BaseCache, key: str, window: int, duration: int) -> tuple[int, int] | None:
    hits = getattr(cache, "window_hits", None)
    if hits is not None:
        return hits(key, window, duration)
    # Other caches (the in-process one of the SQLite demo): the same counter through the portable API.
    current = f"{key}:{window}"
    if not cache.add(current, 1, 2 * duration):
        try:
            cache.incr(current)
        except ValueError:  # expired between add and incr
            cache.add(current, 1, 2 * duration)
    return int(cache.get(current, 1)), int(cache.get(f"{key}:{window - 1}", 0))


def _window_unhit(cache: BaseCache, key: str, window: int) -> None:
    unhit = getattr(cache, "window_unhit", None)
    if unhit is not None:
        unhit(key, window)
        return
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
        cache.decr(f"{key}:{window}")


class AnonRateThrottle(_SlidingWindowCounter, _ClientIpIdent, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_SlidingWindowCounter, _ClientIpIdent, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_SlidingWindowCounter, _ClientIpIdent, throttling.ScopedRateThrottle):
    def allow_request(self, request, view) -> bool:
        # DRF's ScopedRateThrottle picks the rate from the view's scope here, then counts; so do we.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
