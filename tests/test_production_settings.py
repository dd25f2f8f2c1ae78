"""Production settings pass Django's deployment checklist and refuse to start without their secrets."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_ALLOWED_HOSTS": "backoffice.example.com",
        "DJANGO_SECRET_KEY": "s3cr3t-" + "k9Qz2vLp7Xw4Rt8Yb1Nm6Hc3Jd5Fg0Ae" * 2,
        "PSP_WEBHOOK_SECRET": "psp-webhook-secret-from-the-vault",
        "DATABASE_URL": "postgres://casino@db.internal:5432/casino",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "CELERY_BROKER_URL": "redis://cache.internal:6379/1",
        **overrides,
    }
    env.pop("JWT_SIGNING_KEY", None)
    return env


def _check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=_production_env(**env_overrides), capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_the_deployment_checklist():
    result = _check({})
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_its_secret_key():
    result = _check({"DJANGO_SECRET_KEY": ""})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr or "SECRET_KEY" in result.stderr


def test_production_refuses_the_embedded_sqlite_and_eager_defaults():
    for missing in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        result = _check({missing: ""})
        assert result.returncode != 0, missing
    sqlite = _check({"DATABASE_URL": "sqlite:////tmp/casino.sqlite3"})
    assert sqlite.returncode != 0 and "PostgreSQL" in sqlite.stderr


def test_production_never_signs_tokens_with_the_development_key():
    key = "production-secret-" + "x" * 40
    code = "from django.conf import settings; print(settings.SIMPLE_JWT['SIGNING_KEY'])"
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                         env=_production_env(DJANGO_SECRET_KEY=key), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(key)


def _production_databases(**overrides: str) -> dict:
    code = "import json; from django.conf import settings; print(json.dumps(settings.DATABASES['default'], default=str))"
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                         env=_production_env(**overrides), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    return json.loads(out.stdout)


def test_the_web_process_is_uvicorn_asgi_with_a_bounded_connection_per_thread():
    """One ASGI server for HTTP and WebSockets (issue #12). Django alone started a thread per request, each with
    its own persistent connection, and ran PostgreSQL out of connections (issue 7); config.asgi runs HTTP on
    ASGI_THREADS reused threads per process (apps.core.asgi.BoundedThreads), one persistent connection each."""
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    assert web.split()[1:3] == ["uvicorn", "config.asgi:application"]
    assert "--workers ${WEB_CONCURRENCY:-3}" in web
    code = (
        "import config.asgi as a; from apps.core.asgi import BoundedThreads, SyncChainASGIHandler; "
        "h = a.django_asgi_app; print(type(h).__name__, h.threads, type(h.app).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_production_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["BoundedThreads", "4", "SyncChainASGIHandler"]
    database = _production_databases()
    assert database["CONN_MAX_AGE"] == 60 and "pool" not in database.get("OPTIONS", {})


def test_a_pool_bounds_the_connections_of_an_asgi_process():
    database = _production_databases(DB_POOL_MAX_SIZE="4")
    assert database["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert database["OPTIONS"]["pool"]["max_size"] == 4


def test_the_asgi_application_still_loads_for_websockets():
    code = "import config.asgi as a; from channels.routing import ProtocolTypeRouter; print(isinstance(a.application, ProtocolTypeRouter))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_production_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
