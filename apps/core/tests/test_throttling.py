"""The throttles' sliding-window counter (apps.core.throttling), on Redis and on the demo's in-process cache."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.test import APIRequestFactory

from apps.core.throttling import AnonRateThrottle, ScopedRateThrottle

START = 1_800_000_000.0  # a window boundary for 60-second windows (divisible by 60)


class Clock:
    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["redis", "locmem"])
def backend(request):
    """The project's Redis cache (DegradingRedisCache, one round trip) and Django's in-process cache (make run)."""
    if request.param == "redis":
        cache.clear()
        yield cache
        cache.clear()
    else:
        yield LocMemCache(f"throttle-test-{uuid.uuid4()}", {})  # locmem caches of one name share their storage


def throttle(backend, clock: Clock, rate: str = "3/min", cls=AnonRateThrottle):
    instance = cls.__new__(cls)
    instance.rate = rate
    instance.num_requests, instance.duration = instance.parse_rate(rate)
    instance.cache = backend
    instance.timer = clock
    return instance


def ask(backend, clock: Clock, ip: str = "198.51.100.7", rate: str = "3/min") -> tuple[bool, object]:
    request = APIRequestFactory().get("/api/v1/wallet", REMOTE_ADDR=ip)
    request.user = None
    instance = throttle(backend, clock, rate)
    return instance.allow_request(request, None), instance


def test_exactly_the_rate_is_allowed_within_a_window(backend):
    clock = Clock(START + 5)
    answers = [ask(backend, clock)[0] for _ in range(5)]
    assert answers == [True, True, True, False, False]


def test_refused_requests_are_not_counted(backend):
    clock = Clock(START + 5)
    for _ in range(3):
        ask(backend, clock)
    for _ in range(20):
        assert ask(backend, clock)[0] is False  # hammering while throttled ...
    clock.now = START + 60 + 45  # three quarters into the next window: 3 x 0.25 = 0.75 of the old hits still count
    assert ask(backend, clock)[0] is True  # ... did not push the wait out (20 refusals would have weighed 5.75)


def test_the_previous_window_still_weighs_in_proportion(backend):
    clock = Clock(START + 50)
    for _ in range(3):
        assert ask(backend, clock)[0]
    clock.now = START + 60 + 15  # a quarter into the next window: the old 3 hits still weigh 2.25, and 2.25 + 1 > 3
    assert ask(backend, clock)[0] is False  # no bursting to twice the rate at a window boundary
    clock.now = START + 60 + 40  # two thirds in: they weigh 1, so two more fit
    assert [ask(backend, clock)[0] for _ in range(3)] == [True, True, False]


def test_clients_are_counted_apart(backend):
    clock = Clock(START + 5)
    for _ in range(3):
        ask(backend, clock, ip="198.51.100.1")
    assert ask(backend, clock, ip="198.51.100.1")[0] is False
    assert ask(backend, clock, ip="198.51.100.2")[0] is True


def test_retry_after_is_when_the_next_request_would_pass(backend):
    clock = Clock(START + 20)
    for _ in range(3):
        ask(backend, clock)
    allowed, refused = ask(backend, clock)
    assert allowed is False
    wait = refused.wait()
    # Three hits in this window: the next one passes a third into the next window (3 x 2/3 + 1 = 3): 40 s + 20 s.
    assert wait == 60
    clock.now += wait - 1
    assert ask(backend, clock)[0] is False
    clock.now += 1
    assert ask(backend, clock)[0] is True


def test_a_scoped_throttle_takes_the_rate_of_the_views_scope(backend, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})

    class View:
        throttle_scope = "auth"

    clock = Clock(START + 5)
    request = APIRequestFactory().post("/api/v1/auth/token", REMOTE_ADDR="198.51.100.9")
    request.user = None
    answers = []
    for _ in range(3):
        instance = ScopedRateThrottle()
        instance.cache, instance.timer = backend, clock
        answers.append(instance.allow_request(request, View()))
    assert answers == [True, True, False]

    class Unscoped:
        pass

    assert ScopedRateThrottle().allow_request(request, Unscoped()) is True
