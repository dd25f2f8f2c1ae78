"""The Redis cache's clear() (apps.core.cache): with a KEY_PREFIX, only its own keys go, never the whole database."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings

from apps.core.cache import DegradingRedisCache


@pytest.fixture
def prefix():
    base = f"test-clear-{uuid.uuid4().hex[:8]}"
    yield base
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{base}*"))
    if keys:
        client.delete(*keys)


def _cache(prefix: str) -> DegradingRedisCache:
    return DegradingRedisCache(settings.REDIS_URL, {"KEY_PREFIX": prefix})


def test_clear_removes_every_key_of_its_prefix_and_no_other(prefix):
    mine, neighbour = _cache(prefix), _cache(f"{prefix}-other")
    raw = redis.Redis.from_url(settings.REDIS_URL)
    for n in range(2500):  # more than one SCAN/UNLINK batch
        mine.set(f"k{n}", n)
    mine.set("old", 1, version=7)
    neighbour.set("k1", "theirs")
    raw.set(f"{prefix}-unprefixed", "raw")

    assert mine.clear() is True
    assert mine.get("k1") is None and mine.get("k2499") is None and mine.get("old", version=7) is None
    assert list(raw.scan_iter(match=f"{prefix}:*")) == []
    assert neighbour.get("k1") == "theirs"
    assert raw.get(f"{prefix}-unprefixed") == b"raw"


def test_a_prefix_with_glob_characters_matches_only_itself(prefix):
    globby, plain = _cache(f"{prefix}[x]*"), _cache(f"{prefix}x")  # unescaped, "[x]*" would match "x..."
    globby.set("k", 1)
    plain.set("k", 2)
    globby.clear()
    assert globby.get("k") is None
    assert plain.get("k") == 2
