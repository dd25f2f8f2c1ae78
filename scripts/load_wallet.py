#!/usr/bin/env python
"""Load `GET /api/v1/wallet` on a real web server and watch PostgreSQL's connection count.

Why: under uvicorn (ASGI) every request thread kept its own persistent connection and the
server ran out of connections ("too many clients already"). This script is how the Procfile's
choice of web server was made and how it is re-checked (`make loadtest`): it prints requests per
second, the 95th percentile latency and the most connections to the database seen in
pg_stat_activity while the load ran, for one server configuration per run.

It drops and recreates its own database `<name>_load` next to the one in DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/casino), migrates it, creates one player, starts the server on
loopback with production settings (PostgreSQL, Redis from REDIS_URL, default db 4), loads it with
--clients threads for --seconds, stops the server and drops the database. Bounded in time.

    .venv/bin/python scripts/load_wallet.py --server gunicorn [--workers 4] [--clients 10] [--seconds 10]
    .venv/bin/python scripts/load_wallet.py --server uvicorn [--pool 4]   # psycopg pool of 4 per worker
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/casino"
EMAIL = "load@example.com"
PASSWORD = "A-strong-passphrase-42"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["gunicorn", "uvicorn"], default="gunicorn")
    parser.add_argument("--workers", type=int, default=4, help="Web worker processes (WEB_CONCURRENCY).")
    parser.add_argument("--clients", type=int, default=10, help="Concurrent client threads.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured duration.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Unmeasured seconds before the measurement.")
    parser.add_argument("--conn-max-age", type=int, default=60, help="DB_CONN_MAX_AGE (persistent connections).")
    parser.add_argument("--pool", type=int, default=0, help="DB_POOL_MAX_SIZE: a psycopg pool of this size per worker (0: no pool).")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--max-connections", type=int, default=30,
        help="Stop the load early when the server holds more connections than this: PostgreSQL is shared, "
        "and an unbounded server would starve everyone else of connections.",
    )
    return parser.parse_args()


def _db_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_connect(base: str):
    import psycopg

    return psycopg.connect(_db_url(base, "postgres"), autocommit=True)


def _environment(args: argparse.Namespace, db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=db_url,
        REDIS_URL=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/4"),
        CELERY_BROKER_URL=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/4"),
        DJANGO_SECRET_KEY="load-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        JWT_SIGNING_KEY="load-test-jwt-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        PSP_WEBHOOK_SECRET="load-test-psp",
        SECURE_SSL_REDIRECT="false",
        DB_CONN_MAX_AGE=str(args.conn_max_age),
        DB_POOL_MAX_SIZE=str(args.pool),
        # The measurement is about the server and the database, not the throttles.
        THROTTLE_USER="1000000/min",
        THROTTLE_ANON="1000000/min",
        LOG_LEVEL="WARNING",
    )
    return env


def _server_command(args: argparse.Namespace) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if args.server == "gunicorn":
        return [str(bin_dir / "gunicorn"), "config.wsgi:application", "-c", str(ROOT / "config" / "gunicorn.py"),
                "--bind", f"127.0.0.1:{args.port}", "--workers", str(args.workers)]
    return [str(bin_dir / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port", str(args.port),
            "--workers", str(args.workers), "--log-level", "warning"]


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit("The server did not start in time.")


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None, token: str | None = None):
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def _connections(cursor, name: str) -> int:
    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name])
    return cursor.fetchone()[0]


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(1)  # so the finally block stops the server and drops the database


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args()
    base = os.environ.get("DATABASE_URL", DEFAULT_URL)
    name = f"{urlsplit(base).path.lstrip('/') or 'casino'}_load"
    db_url = _db_url(base, name)
    env = _environment(args, db_url)
    admin = _admin_connect(base)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    server = None
    try:
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
        create = (
            "from datetime import date; from apps.players.services import player_register; "
            f"player_register(email={EMAIL!r}, password={PASSWORD!r}, first_name='Load', last_name='Test', "
            "date_of_birth=date(1990, 1, 1), country='DE', currency='EUR')"
        )
        subprocess.run([python, "manage.py", "shell", "-c", create], cwd=ROOT, env=env, check=True, timeout=120)
        server = subprocess.Popen(_server_command(args), cwd=ROOT, env=env, start_new_session=True)
        _wait_for_port(args.port, time.monotonic() + 60)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        status, body = _request(conn, "POST", "/api/v1/auth/token", {"email": EMAIL, "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"Login failed: {status} {body[:200]!r}")
        token = json.loads(body)["access"]

        latencies: list[float] = []
        failures: list[int] = []
        lock = threading.Lock()
        measuring = threading.Event()
        stop = threading.Event()

        def client() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    code, _ = _request(connection, "GET", "/api/v1/wallet", token=token)
                except (OSError, http.client.HTTPException):
                    code = 0
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
                elapsed = time.perf_counter() - started
                if measuring.is_set():
                    with lock:
                        latencies.append(elapsed)
                        if code != 200:
                            failures.append(code)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        max_connections = 0
        with admin.cursor() as cursor:
            end_warmup = time.monotonic() + args.warmup
            while time.monotonic() < end_warmup and max_connections <= args.max_connections:
                max_connections = max(max_connections, _connections(cursor, name))
                time.sleep(0.1)
            measuring.set()
            started = time.monotonic()
            aborted = max_connections > args.max_connections
            while not aborted and time.monotonic() - started < args.seconds:
                max_connections = max(max_connections, _connections(cursor, name))
                if max_connections > args.max_connections:
                    aborted = True
                    break
                time.sleep(0.1)
            measuring.clear()
            duration = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join(timeout=35)
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else float("nan")
        label = (
            f"{args.server}, {args.workers} workers, {args.clients} clients, "
            f"CONN_MAX_AGE={args.conn_max_age}, pool={args.pool or 'off'}"
        )
        print(
            f"{label}: {len(latencies) / duration:.0f} req/s, p95 {p95:.0f} ms, "
            f"failed {len(failures)}, max PostgreSQL connections {max_connections}"
        )
        if aborted:
            print(f"ABORTED: more than {args.max_connections} connections; the server does not bound them.")
        return 1 if failures or aborted else 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
