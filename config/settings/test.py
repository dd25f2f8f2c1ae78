"""Tests run against real PostgreSQL and Redis, as production does."""

import os
import uuid

from apps.core.cache import redis_cache, redis_channel_layer

from .base import *  # noqa: F403
from .base import env

DATABASES = {
    "default": {
        **env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/casino"),
        # Parallel test runs (several developers on one machine) each name their own test database.
        "TEST": {"NAME": env("TEST_DATABASE_NAME", default=None)},
    }
}
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/1")
# One key space per test process, so parallel runs never see each other's throttles.
CACHES = {"default": redis_cache(REDIS_URL, KEY_PREFIX=f"test-{uuid.uuid4().hex[:8]}")}
# Groups and channels under a per-process prefix too, so parallel runs on one Redis db never cross.
CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:8]}")}
CELERY_TASK_ALWAYS_EAGER = True
# Each posting's balance push in the committing thread, so the socket tests' assertions need not wait for a batch.
REALTIME_PUSH_BATCH_SECONDS = 0.0
CELERY_BROKER_URL = "memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "10000/min", "user": "10000/min", "auth": "10000/min"}  # noqa: F405
# `make test` runs the suite in pytest-xdist workers (PYTEST_XDIST_WORKER gw0, gw1): pytest-django gives each its own
# test database (a _gw0/_gw1 suffix), and each gets its own media directory here, so that report files of one name never
# collide. Redis needs nothing more: the cache and channel prefixes above are per process, the cache's clear() deletes
# only its own prefix (apps.core.cache), and the Celery worker tests each use a queue of their own.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / ".test-private-media" / _XDIST_WORKER)))  # noqa: F405
STORAGES["default"]["OPTIONS"]["location"] = str(PRIVATE_MEDIA_ROOT)  # noqa: F405
