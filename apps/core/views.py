"""Liveness and readiness for the load balancer and the on-call engineer."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_redis() -> str:
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    return "ok"


def _check_broker() -> str:
    # The app configured at start-up (config/celery.py), without core importing the project's config package.
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@require_GET
def healthz_live(request) -> JsonResponse:
    """Liveness only: the process answers. No database, no Redis: a dependency's outage must not make the
    orchestrator restart healthy web processes (readiness, /healthz, reports those). Also the floor of
    `make bench`'s HTTP figures: what the web server and Django cost with no work behind them."""
    return JsonResponse({"status": "ok"})


@require_GET
def healthz(request) -> JsonResponse:
    checks = {"database": _check_database}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = _check_broker
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - a health check reports every failure, whatever it is
            results[name] = f"down: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in results.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": results}, status=200 if healthy else 503)
