"""/healthz: 200 when the database and Redis answer, 503 naming the failed check otherwise."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from apps.core import views

pytestmark = pytest.mark.django_db


def test_healthy_with_database_and_redis(client, settings):
    assert settings.REDIS_URL  # the test settings point at a real Redis
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_redis_down_is_503(client, monkeypatch):
    def down():
        raise ConnectionError("redis refused")

    monkeypatch.setattr(views, "_check_redis", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "redis": "down: ConnectionError"}


def test_database_down_is_503(client, monkeypatch):
    def down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "_check_database", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "down: OperationalError"


def test_broker_is_checked_when_celery_is_not_eager(client, settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(views, "_check_broker", lambda: "ok")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_liveness_answers_without_touching_the_database_or_redis(client, django_assert_num_queries, monkeypatch):
    def down():
        raise ConnectionError("redis refused")

    monkeypatch.setattr(views, "_check_redis", down)
    with django_assert_num_queries(0):
        response = client.get("/healthz/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
