#!/usr/bin/env python
"""`make fuzz`: schemathesis against a live server, bounded in time; fails on any undocumented status,
schema violation or 5xx.

Why: the OpenAPI schema is the contract clients generate code from; schemathesis found 41 statuses
the API answered but the schema did not list (issue 7). This keeps the two in agreement.

It drops and recreates its own database `<name>_fuzz` next to the one in DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/casino), migrates it, registers one player, starts gunicorn on
loopback (local settings, PostgreSQL, Redis db 4, KYC files in a temporary directory) and runs
schemathesis with the player's access token, then stops the server and drops the database.

    .venv/bin/python scripts/fuzz.py [--max-examples 25] [--max-time 180] [--seed 7]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_wallet import _admin_connect, _db_url, _request, _wait_for_port

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/casino"
EMAIL = "fuzz@example.com"
PASSWORD = "A-strong-passphrase-42"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=60, help="Test cases per operation and phase.")
    parser.add_argument("--max-time", type=int, default=300, help="Seconds the run may take at most; past that it fails.")
    parser.add_argument("--seed", type=int, default=7, help="Same seed, same requests: a failure reproduces.")
    parser.add_argument("--port", type=int, default=8781)
    return parser.parse_args()


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(1)


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args()
    base = os.environ.get("DATABASE_URL", DEFAULT_URL)
    name = f"{urlsplit(base).path.lstrip('/') or 'casino'}_fuzz"
    media = tempfile.mkdtemp(prefix="casino-fuzz-media-")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": _db_url(base, name),
        "REDIS_URL": os.environ.get("FUZZ_REDIS_URL", "redis://127.0.0.1:6379/4"),
        "PRIVATE_MEDIA_ROOT": media,
        # The fuzzer sends thousands of requests from one address: throttles would answer most with 429.
        "THROTTLE_ANON": "1000000/min",
        "THROTTLE_USER": "1000000/min",
        "THROTTLE_AUTH": "1000000/min",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "ERROR",
    }
    admin = _admin_connect(base)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    server = None
    server_log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally block
    try:
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
        create = (
            "from datetime import date; from apps.players.services import player_register; "
            f"player_register(email={EMAIL!r}, password={PASSWORD!r}, first_name='Fuzz', last_name='Test', "
            "date_of_birth=date(1990, 1, 1), country='DE', currency='EUR')"
        )
        subprocess.run([python, "manage.py", "shell", "-c", create], cwd=ROOT, env=env, check=True, timeout=120)
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        server = subprocess.Popen(
            [gunicorn, "config.wsgi:application", "-c", "config/gunicorn.py", "--bind", f"127.0.0.1:{args.port}", "--workers", "2"],
            cwd=ROOT, env=env, start_new_session=True, stdout=server_log, stderr=subprocess.STDOUT,
        )
        _wait_for_port(args.port, time.monotonic() + 60)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        status, body = _request(conn, "POST", "/api/v1/auth/token", {"email": EMAIL, "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"Login failed: {status} {body[:200]!r}")
        token = json.loads(body)["access"]
        command = [
            str(Path(sys.executable).parent / "schemathesis"), "run", f"http://127.0.0.1:{args.port}/api/schema/",
            "--checks", CHECKS,
            "--header", f"Authorization: Bearer {token}",
            "--max-examples", str(args.max_examples),
            "--seed", str(args.seed),
            "--workers", "2",
            "--request-timeout", "20",
            "--suppress-health-check", "all",
            "--generation-database", "none",
            "--no-color",
        ]
        started = time.monotonic()
        try:
            code = subprocess.run(command, cwd=ROOT, env=env, timeout=args.max_time).returncode
        except subprocess.TimeoutExpired:
            print(f"FAILED: the run took longer than {args.max_time} s.")
            return 1
        print(f"schemathesis finished in {time.monotonic() - started:.0f} s")
        if code != 0:
            server_log.seek(0)
            errors = [line for line in server_log.read().decode(errors="replace").splitlines() if "Traceback" in line or "ERROR" in line]
            print("\n".join(errors[-40:]))
        return code
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(media, ignore_errors=True)
        server_log.close()


if __name__ == "__main__":
    sys.exit(main())
