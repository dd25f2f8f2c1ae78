#!/usr/bin/env python
"""`make soak`: a mixed workload for a few minutes against the production processes of the Procfile.

What runs: the Procfile's `web:` command exactly as written (read from the Procfile, so it follows
whatever server main uses) and its `worker:` command, with production settings, on a database of
its own (dropped at the end), PostgreSQL and its own Redis database. What it does, from several
client threads over HTTP: players register, log in, refresh, deposit, play dice rounds, launch
provider games on which the two sandbox providers (generic HMAC and Caleta RSA, keys rotated to ones
this script holds) bet, win and roll back; KYC-approved demo players withdraw; officers approve and
reject withdrawals and work AML alerts through the services; the AML sweep and a report run are
asked for in between and run on the real worker. About one money request in four is replayed with
its Idempotency-Key (or transaction id) and must answer the same.

What it checks at the end (non-zero exit on any failure): no 5xx; every replay matched; verify_ledger
green; a ledger journal report made by the worker reconciles entry by entry with the ledger; the
web processes' resident memory stayed flat (see --rss-tolerance-mb); the AML sweep ran.

    .venv/bin/python scripts/soak.py [--duration 150] [--clients 6] [--port 8120]
    env: DATABASE_URL (server to use), SOAK_DATABASE_NAME (default <name>_soak), SOAK_REDIS_URL
"""

from __future__ import annotations

import argparse
import base64
import csv
import hmac
import http.client
import io
import itertools
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_wallet import _admin_connect, _db_url, _wait_for_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/casino"
PLAYER_PASSWORD = "Demo-player-2024!"
STAFF_PASSWORD = "Demo-operator-2024!"
NEW_PASSWORD = "A-strong-passphrase-42"
WITHDRAWERS = ("anna.schmidt", "sofia.rossi", "aoife.murphy", "erik.lindqvist")
GENERIC_SECRET = "soak-generic-secret-" + uuid.uuid4().hex
WEB_APPLICATION_NAME = "soak-web"  # the web processes' PostgreSQL application_name: the killer ends only these


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=150, help="Seconds of mixed load (the whole run takes about a minute more).")
    parser.add_argument("--clients", type=int, default=6, help="Player client threads.")
    parser.add_argument("--port", type=int, default=8120)
    parser.add_argument("--web-concurrency", type=int, default=2)
    parser.add_argument("--rss-tolerance-mb", type=float, default=30.0,
                        help="Flat memory: each web process's RSS may grow at most this much (and 25 %%) after the warm-up.")
    parser.add_argument("--seed", type=int, default=13)
    return parser.parse_args()


# --- the Procfile -----------------------------------------------------------------------------------------


def procfile_command(kind: str, *extra: str) -> list[str]:
    """The Procfile's line for `kind` run as a shell would (its ${PORT:-8000} defaults expanded), with this
    virtualenv's programs first on PATH; `exec` keeps the server's pid the one we watch."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            command = line.split(":", 1)[1].strip()
            path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
            return ["env", f"PATH={path}", "bash", "-c", f"exec {command} {shlex.join(extra)}".rstrip()]
    raise SystemExit(f"The Procfile has no {kind}: line.")


# --- HTTP ----------------------------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: list[str] = []
        self.replays = 0
        self.replay_mismatches: list[str] = []

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def fail(self, message: str) -> None:
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(message)

    def replayed(self, what: str, first: tuple[int, object], second: tuple[int, object]) -> None:
        with self.lock:
            self.replays += 1
            if first != second:
                self.replay_mismatches.append(f"{what}: {first} then {second}")


class Http:
    """One keep-alive connection per client thread; every answer is recorded, a 5xx is a failure."""

    def __init__(self, port: int, stats: Stats) -> None:
        self.port, self.stats = port, stats
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: object = None, *, token: str | None = None, headers: dict | None = None,
             raw: bytes | None = None) -> tuple[int, object]:
        """Send, and on a 503 (the killer thread ended this worker's database connection) check its shape and
        send the very same request again, as API.md tells clients to: same body, same Idempotency-Key."""
        self.after_unavailable = False
        for _ in range(20):
            status, data, response_headers = self._send(method, path, body, token=token, headers=headers, raw=raw)
            if status != 503:
                return status, data
            self.after_unavailable = True
            shaped = isinstance(data, dict) and data.get("error", {}).get("code") == "service_unavailable"
            retry_after = response_headers.get("Retry-After", "")
            self.stats.count("503 answers (database connection killed), retried")
            if not (shaped and retry_after.isdigit()):
                self.stats.fail(f"{method} {path} -> 503 without the error shape or Retry-After: {data!r} {retry_after!r}")
                return status, data
            time.sleep(min(int(retry_after), 1))
        self.stats.fail(f"{method} {path}: still 503 after 20 attempts")
        return status, data

    def _send(self, method: str, path: str, body: object, *, token: str | None, headers: dict | None,
              raw: bytes | None) -> tuple[int, object, http.client.HTTPMessage]:
        sent = dict(headers or {})
        sent.setdefault("Content-Type", "application/json")
        sent["Host"] = "localhost"
        sent["X-Forwarded-Proto"] = "https"  # production settings redirect plain HTTP; the proxy would say https
        if token:
            sent["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=payload, headers=sent)
                response = self.conn.getresponse()
                content = response.read()
                break
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        name = re.sub(r"/\d+", "/{id}", path.split("?")[0])
        with self.stats.lock:
            self.stats.statuses[(f"{method} {name}", response.status)] += 1
        if response.status >= 500 and response.status != 503:
            self.stats.fail(f"{method} {path} -> {response.status} {content[:200]!r}")
        try:
            data = json.loads(content) if content else None
        except ValueError:
            data = content
        return response.status, data, response.headers  # an HTTPMessage: header names are case-insensitive, as in HTTP


# --- the workload -----------------------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace, caleta_private_pem: str) -> None:
        self.args = args
        self.stats = Stats()
        self.stop = threading.Event()
        self.caleta_private_pem = caleta_private_pem
        self.keys = itertools.count(1)
        self.rng_lock = threading.Lock()

    def key(self, prefix: str) -> str:
        return f"soak-{prefix}-{next(self.keys)}"

    def login(self, http_: Http, email: str, password: str) -> dict:
        status, body = http_.call("POST", "/api/v1/auth/token", {"email": email, "password": password})
        if status != 200:
            raise RuntimeError(f"login {email}: {status} {body}")
        return body

    def money(self, http_: Http, rng: random.Random, what: str, path: str, body: dict, token: str) -> tuple[int, object]:
        """A money POST with an Idempotency-Key; about one in four is sent again and must answer the same."""
        key = self.key(what)
        first = http_.call("POST", path, body, token=token, headers={"Idempotency-Key": key})
        self.stats.count(what)
        if first[0] in (200, 201):
            self.stats.count("money keys answered with success")
        if rng.random() < 0.25:
            second = http_.call("POST", path, body, token=token, headers={"Idempotency-Key": key})
            self.stats.replayed(what, first, second)
        return first

    def player_client(self, n: int) -> None:
        rng = random.Random(self.args.seed * 100 + n)
        http_ = Http(self.args.port, self.stats)
        while not self.stop.is_set():
            email = f"soak-{n}-{uuid.uuid4().hex[:10]}@example.com"
            status, body = http_.call("POST", "/api/v1/auth/register", {
                "email": email, "password": NEW_PASSWORD, "first_name": "Soak", "last_name": f"Player{n}",
                "date_of_birth": "1990-01-01", "country": "DE", "currency": "EUR"})
            if status == 409 and http_.after_unavailable:
                self.stats.count("registrations committed before their 503")
            elif status != 201:
                self.stats.fail(f"register -> {status} {body}")
                time.sleep(1)
                continue
            self.stats.count("registrations")
            tokens = self.login(http_, email, NEW_PASSWORD)
            self.stats.count("logins")
            access = tokens["access"]
            me = http_.call("GET", "/api/v1/me", token=access)[1]
            self.money(http_, rng, "deposits", "/api/v1/wallet/deposits", {"amount": "50.00", "method": "sandbox"}, access)
            session = http_.call("POST", "/api/v1/games/dice/sessions", {}, token=access)
            session_id = session[1]["id"] if session[0] == 201 else None
            caleta = http_.call("POST", "/api/v1/games/caleta-fruit-party/launch", {}, token=access)
            caleta_token = caleta[1]["token"] if caleta[0] == 201 else None
            if caleta_token is None:
                self.stats.fail(f"launch -> {caleta}")
            for _ in range(rng.randint(60, 100)):  # a registration and a login cost two password hashes: not every turn
                if self.stop.is_set():
                    break
                roll = rng.random()
                if roll < 0.55 and session_id:
                    status, _ = self.money(http_, rng, "rounds", f"/api/v1/game-sessions/{session_id}/rounds",
                                           {"stake": rng.choice(["0.10", "0.50", "1.00"]), "target": "50.00", "direction": "under"}, access)
                elif roll < 0.8 and caleta_token:
                    self.provider_round(http_, rng, me["id"], caleta_token)
                elif roll < 0.9:
                    self.money(http_, rng, "deposits", "/api/v1/wallet/deposits", {"amount": "20.00", "method": "sandbox"}, access)
                else:
                    http_.call("GET", "/api/v1/wallet", token=access)
                    http_.call("GET", "/api/v1/wallet/transactions", token=access)
            refreshed = http_.call("POST", "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]})
            self.stats.count("refreshes")
            if refreshed[0] != 200:
                self.stats.fail(f"refresh -> {refreshed}")
            if session_id:
                http_.call("POST", f"/api/v1/game-sessions/{session_id}/close", {}, token=access)

    def provider_round(self, http_: Http, rng: random.Random, player_id: str, caleta_token: str) -> None:
        """A bet, then a win or a rollback, on one of the two protocols; some calls are delivered twice."""
        round_id = uuid.uuid4().hex
        if rng.random() < 0.5:
            def call(operation: str, body: dict) -> tuple[int, object]:
                raw = json.dumps(body).encode()
                signature = hmac.new(GENERIC_SECRET.encode(), raw, "sha256").hexdigest()
                return http_.call("POST", f"/api/v1/providers/sandbox-generic/{operation}", raw=raw, headers={"X-Signature": signature})

            base = {"player_id": player_id, "round_id": round_id, "currency": "EUR"}
            bet_id = self.key("gbet")
            bet = {**base, "transaction_id": bet_id, "amount": "1.00"}
            first = call("bet", bet)
            self.stats.count("provider bets")
            if rng.random() < 0.3:
                self.stats.replayed("generic bet", first, call("bet", bet))
            if first[0] != 200:
                return
            if rng.random() < 0.3:
                rollback = {**base, "transaction_id": self.key("grb"), "rolled_back_transaction_id": bet_id}
                answer = call("rollback", rollback)
                self.stats.count("provider rollbacks")
                if rng.random() < 0.5:
                    self.stats.replayed("generic rollback", answer, call("rollback", rollback))
            else:
                win = {**base, "transaction_id": self.key("gwin"), "amount": "2.00"}
                answer = call("win", win)
                self.stats.count("provider wins")
                if rng.random() < 0.3:
                    self.stats.replayed("generic win", answer, call("win", win))
        else:
            def call(operation: str, body: dict) -> tuple[int, object]:
                raw = json.dumps(body).encode()
                return http_.call("POST", f"/api/v1/providers/caleta/wallet/{operation}", raw=raw,
                                  headers={"X-Auth-Signature": rsa_sign(self.caleta_private_pem, raw)})

            base = {"token": caleta_token, "user": player_id, "game_code": "clt_fruit_party", "currency": "EUR", "round": round_id}
            bet_id = str(uuid.uuid4())
            bet = {**base, "request_uuid": str(uuid.uuid4()), "transaction_uuid": bet_id, "amount": 100_000, "round_closed": False}
            first = call("bet", bet)
            self.stats.count("provider bets")
            if rng.random() < 0.3:
                self.stats.replayed("caleta bet", _without_request(first), _without_request(call("bet", bet)))
            if not (first[0] == 200 and isinstance(first[1], dict) and first[1].get("status") == "RS_OK"):
                return
            if rng.random() < 0.3:
                rollback = {**base, "request_uuid": str(uuid.uuid4()), "transaction_uuid": str(uuid.uuid4()),
                            "reference_transaction_uuid": bet_id}
                answer = call("rollback", rollback)
                self.stats.count("provider rollbacks")
                if rng.random() < 0.5:
                    self.stats.replayed("caleta rollback", _without_request(answer), _without_request(call("rollback", rollback)))
            else:
                win = {**base, "request_uuid": str(uuid.uuid4()), "transaction_uuid": str(uuid.uuid4()),
                       "reference_transaction_uuid": bet_id, "amount": 200_000, "round_closed": True}
                answer = call("win", win)
                self.stats.count("provider wins")
                if rng.random() < 0.3:
                    self.stats.replayed("caleta win", _without_request(answer), _without_request(call("win", win)))

    def withdrawer(self) -> None:
        rng = random.Random(self.args.seed)
        http_ = Http(self.args.port, self.stats)
        tokens = {local: self.login(http_, f"{local}@demo.casino.test", PLAYER_PASSWORD)["access"] for local in WITHDRAWERS}
        while not self.stop.wait(rng.uniform(0.5, 1.5)):
            local = rng.choice(WITHDRAWERS)
            self.money(http_, rng, "deposits", "/api/v1/wallet/deposits", {"amount": "30.00", "method": "sandbox"}, tokens[local])
            status, body = self.money(http_, rng, "withdrawals", "/api/v1/wallet/withdrawals", {"amount": "10.00"}, tokens[local])
            if status not in (201, 403, 422):
                self.stats.fail(f"withdrawal -> {status} {body}")
            if status == 201 and rng.random() < 0.2:
                http_.call("POST", f"/api/v1/wallet/withdrawals/{body['id']}/cancel", {}, token=tokens[local])
                self.stats.count("withdrawal cancels")

    def officers(self) -> None:
        """Operators approve and reject withdrawals, compliance works AML alerts, through the services."""
        from django.db import connection

        from apps.aml import services as aml_services
        from apps.aml.models import AmlAlert
        from apps.core.errors import DomainError
        from apps.payments import services as payments
        from apps.payments.models import Withdrawal
        from apps.players.models import User

        operator = User.objects.get(email="operator@casino.test")
        compliance = User.objects.get(email="compliance@casino.test")
        decisions = itertools.count()
        try:
            while not self.stop.wait(2.0):
                for withdrawal in Withdrawal.objects.filter(status="requested").order_by("pk")[:5]:
                    try:
                        if next(decisions) % 3 == 2:
                            payments.withdrawal_reject(withdrawal=withdrawal, actor=operator, reason="Soak: rejected for the test.")
                            self.stats.count("withdrawals rejected")
                        else:
                            approved = payments.withdrawal_approve(withdrawal=withdrawal, actor=operator, note="soak")
                            payments.withdrawal_mark_paid(withdrawal=approved, actor=operator, psp_reference=f"soak-{approved.pk}")
                            self.stats.count("withdrawals approved and paid")
                    except DomainError as exc:  # a player cancelled it meanwhile: the service refuses, as it should
                        self.stats.count(f"officer refused: {type(exc).__name__}")
                for alert in AmlAlert.objects.filter(status="open").order_by("pk")[:3]:
                    aml_services.alert_transition(alert_id=alert.pk, actor=compliance, action="investigate", note="Soak: looking.")
                    aml_services.alert_transition(alert_id=alert.pk, actor=compliance, action="dismiss", note="Soak: test traffic.")
                    self.stats.count("aml alerts worked")
        finally:
            connection.close()

    def killer(self, database: str) -> None:
        """Every few seconds, pg_terminate_backend on one of the web processes' connections (application_name
        soak-web, this soak's own database only): requests in flight answer 503 and are retried."""
        from django.db import connection

        rng = random.Random(self.args.seed + 1)
        try:
            while not self.stop.wait(rng.uniform(2.0, 5.0)):
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND application_name = %s "
                        "AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1", [database, WEB_APPLICATION_NAME])
                    if any(row[0] for row in cursor.fetchall()):
                        self.stats.count("web database connections killed")
        finally:
            connection.close()

    def scheduler(self, compliance_token: str) -> None:
        """What beat would do, more often: the AML sweep on the worker, and a report asked for over the staff API."""
        from apps.aml.tasks import monitoring_sweep

        http_ = Http(self.args.port, self.stats)
        half = time.monotonic() + self.args.duration / 2
        report_asked = False
        while not self.stop.wait(20.0):
            monitoring_sweep.delay()
            self.stats.count("aml sweeps sent")
            if not report_asked and time.monotonic() > half:
                status, _body = http_.call("POST", "/api/v1/staff/reports/runs", {"type": "ggr_daily", "period": _today()},
                                          token=compliance_token)
                report_asked = status == 202
                self.stats.count("report runs asked (mid-load)")


def _without_request(answer: tuple[int, object]) -> tuple[int, object]:
    """Caleta answers echo the request's own request_uuid; the rest must be the same on a replay."""
    status, body = answer
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "request_uuid"}
    return status, body


def rsa_sign(private_pem: str, raw: bytes) -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()


def _today() -> str:
    from zoneinfo import ZoneInfo

    from apps.core import clock

    return clock.now().astimezone(ZoneInfo("Europe/Madrid")).date().isoformat()


# --- memory -----------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Memory:
    """VmRSS of each web worker process (the children of the server's master), every two seconds."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.samples: dict[int, list[tuple[float, int]]] = defaultdict(list)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(2.0):
            now = time.monotonic()
            for pid in [self.master, *_children(self.master)]:
                rss = _rss_kb(pid)
                if rss is not None:
                    self.samples[pid].append((now, rss))

    def verdict(self, warm_until: float, tolerance_mb: float) -> tuple[bool, list[str]]:
        lines, ok, judged = [], True, 0
        for pid, samples in sorted(self.samples.items()):
            warm = [rss for t, rss in samples if t >= warm_until]
            if len(warm) < 5:
                lines.append(f"  pid {pid}: {len(warm)} samples after warm-up (recycled or started late): not judged")
                continue
            judged += 1
            start, end, peak = warm[0] / 1024, warm[-1] / 1024, max(warm) / 1024
            growth = end - start
            flat = growth <= tolerance_mb and growth <= 0.25 * start
            ok &= flat
            role = "master" if pid == self.master else "worker"
            lines.append(f"  {role} pid {pid}: {start:.1f} MB after warm-up -> {end:.1f} MB at the end (peak {peak:.1f}): "
                         f"{'flat' if flat else 'GREW'} ({growth:+.1f} MB)")
        return ok and judged > 1, lines


# --- the run ----------------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(1)))
    base = os.environ.get("DATABASE_URL", DEFAULT_URL)
    name = os.environ.get("SOAK_DATABASE_NAME") or f"{urlsplit(base).path.lstrip('/') or 'casino'}_soak"
    redis_url = os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/7")
    media = tempfile.mkdtemp(prefix="casino-soak-media-")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": _db_url(base, name),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "DJANGO_SECRET_KEY": "soak-" + uuid.uuid4().hex * 2,
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "PSP_WEBHOOK_SECRET": "soak-psp-" + uuid.uuid4().hex,
        "PAYMENTS_DEPOSIT_METHODS": "sandbox",
        "PRIVATE_MEDIA_ROOT": media,
        "PORT": str(args.port),
        "WEB_CONCURRENCY": str(args.web_concurrency),
        # Every client comes from 127.0.0.1: per-IP throttles would answer most calls with 429.
        "THROTTLE_ANON": "1000000/min", "THROTTLE_USER": "1000000/min", "THROTTLE_AUTH": "1000000/min",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update({k: v for k, v in env.items() if k not in ("PORT",)})
    admin = _admin_connect(base)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    processes: list[subprocess.Popen] = []
    logs = Path(media) / "logs"
    logs.mkdir()
    failures: list[str] = []
    started = time.monotonic()
    try:
        python = sys.executable
        print(f"soak: database {name}, Redis {redis_url}, web on 127.0.0.1:{args.port}, {args.duration} s of load")
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=600)
        subprocess.run([python, "manage.py", "seed_demo", "--allow-production"], cwd=ROOT, env=env, check=True, timeout=600,
                       stdout=subprocess.DEVNULL)
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode()
        public_file = Path(media) / "caleta.pub.pem"
        public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        public_file.write_bytes(public_pem)
        subprocess.run([python, "manage.py", "provider_key", "sandbox-generic", "--secret", GENERIC_SECRET], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([python, "manage.py", "provider_key", "caleta", "--public-key", str(public_file)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)

        import django

        django.setup()
        from django.db import connection

        from apps.ledger.models import Entry

        web = procfile_command("web")
        worker = procfile_command("worker", "--concurrency", "1", "--without-gossip", "--without-mingle")
        print(f"soak: web    = {' '.join(web)}  (Procfile, WEB_CONCURRENCY={args.web_concurrency})")
        print(f"soak: worker = {' '.join(worker)}")
        web_env = {**env, "DATABASE_URL": f"{env['DATABASE_URL']}?application_name={WEB_APPLICATION_NAME}"}
        for command, log, process_env in ((web, "web.log", web_env), (worker, "worker.log", env)):
            processes.append(subprocess.Popen(command, cwd=ROOT, env=process_env, start_new_session=True,
                                              stdout=(logs / log).open("wb"), stderr=subprocess.STDOUT))
        _wait_for_port(args.port, time.monotonic() + 90)
        first_entry = (Entry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
        connection.close()

        soak = Soak(args, private_pem)
        memory = Memory(processes[0].pid)
        http_ = Http(args.port, soak.stats)
        compliance_token = soak.login(http_, "compliance@casino.test", STAFF_PASSWORD)["access"]
        threads = [threading.Thread(target=memory.run, daemon=True)]
        threads += [threading.Thread(target=soak.player_client, args=(n,), daemon=True) for n in range(args.clients)]
        threads += [threading.Thread(target=soak.withdrawer, daemon=True), threading.Thread(target=soak.officers, daemon=True),
                    threading.Thread(target=soak.scheduler, args=(compliance_token,), daemon=True),
                    threading.Thread(target=soak.killer, args=(name,), daemon=True)]
        load_started = time.monotonic()
        warm_until = load_started + min(45.0, args.duration / 3)
        for thread in threads:
            thread.start()
        while time.monotonic() - load_started < args.duration:
            time.sleep(5)
            for process in processes:
                if process.poll() is not None:
                    raise SystemExit(f"a Procfile process exited ({process.args[0]}: {process.returncode}); see {logs}")
        soak.stop.set()
        for thread in threads[1:]:
            thread.join(timeout=120)
        memory.stop.set()
        threads[0].join(timeout=10)
        load_seconds = time.monotonic() - load_started

        # The last sweep and the reconciliation report, on the worker, after the load.
        from apps.aml.models import Watermark
        from apps.aml.services import MONITORING_WATERMARK
        from apps.aml.tasks import monitoring_sweep
        from apps.ledger.checks import verify_ledger
        from apps.reports.models import ReportRun, RunStatus

        monitoring_sweep.delay()
        status, body = http_.call("POST", "/api/v1/staff/reports/runs", {"type": "ledger_journal_daily", "period": _today()},
                                  token=compliance_token)
        if status != 202:
            failures.append(f"asking for the journal report answered {status} {body}")
        # The one worker (concurrency 1) still has the AML evaluations the load queued. They used to be on the same
        # queue, and the journal report waited behind that backlog (168 s after a 150 s load); now they are on the
        # `aml` queue (CELERY_TASK_ROUTES), which the Procfile's worker consumes in turn with the default one, and each
        # task evaluates its batch in one pass. Bounded all the same; how long it took is printed.
        drain_started = time.monotonic()
        deadline = drain_started + 480
        while time.monotonic() < deadline and ReportRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
            time.sleep(1)
        print(f"soak: report runs finished on the worker {time.monotonic() - drain_started:.0f} s after the load", flush=True)
        runs = list(ReportRun.objects.order_by("pk"))
        print("\nsoak: what it did, in", f"{load_seconds:.0f} s of load")
        for what, n in sorted(soak.stats.counts.items()):
            print(f"  {what:34} {n}")
        total = sum(soak.stats.statuses.values())
        print(f"  {'HTTP requests':34} {total} ({total / load_seconds:.0f}/s)")
        for (endpoint, code), n in sorted(soak.stats.statuses.items()):
            print(f"    {code} {endpoint:58} {n}")

        print("\nsoak: checks")

        def check(ok: bool, message: str) -> None:
            print(f"  [{'ok' if ok else 'FAIL'}] {message}")
            if not ok:
                failures.append(message)

        server_errors = sum(n for (_, code), n in soak.stats.statuses.items() if code >= 500 and code != 503)
        unavailable = soak.stats.counts["503 answers (database connection killed), retried"]
        check(server_errors == 0 and not soak.stats.failures, f"no 5xx but clean 503s ({server_errors} other 5xx; {unavailable} 503s, "
              f"each with the error shape and Retry-After, each retried to completion; "
              f"{len(soak.stats.failures)} unexpected{': ' + '; '.join(soak.stats.failures[:5]) if soak.stats.failures else ''})")
        mismatches = soak.stats.replay_mismatches
        check(soak.stats.replays > 0 and not mismatches,
              f"every idempotent replay answered as the first call ({soak.stats.replays} replays, "
              f"{len(mismatches)} mismatched{': ' + '; '.join(mismatches[:3]) if mismatches else ''})")
        from apps.core.models import IdempotentRequest

        stored = IdempotentRequest.objects.filter(key__startswith="soak-").values_list("key", flat=True)
        succeeded = soak.stats.counts["money keys answered with success"]
        check(len(stored) == len(set(stored)) == succeeded,
              f"each Idempotency-Key done exactly once ({len(stored)} stored answers for {succeeded} keys answered with success)")
        report = verify_ledger()
        check(report.ok, f"verify_ledger green ({'; '.join(map(str, report.breaches[:5])) if not report.ok else 'no breach'})")
        statuses = Counter(run.status for run in runs)
        check(all(run.status == RunStatus.DONE for run in runs) and len(runs) >= 2,
              f"every report run done on the worker ({dict(statuses)})")
        journal = next((run for run in reversed(runs) if run.report_type == "ledger_journal_daily" and run.status == RunStatus.DONE), None)
        if journal is not None:
            check(*_reconcile(journal, first_entry))
        mark = Watermark.objects.filter(name=MONITORING_WATERMARK).values_list("last_id", flat=True).first() or 0
        check(mark > 0 and soak.stats.counts["aml sweeps sent"] > 0, f"the AML sweep ran on the worker (watermark at ledger id {mark})")
        flat, lines = memory.verdict(warm_until, args.rss_tolerance_mb)
        check(flat, f"web processes' memory flat (VmRSS; at most +{args.rss_tolerance_mb:.0f} MB and +25 % after a "
              f"{warm_until - load_started:.0f} s warm-up)")
        print("\n".join(lines))
        connection.close()
    except SystemExit as exc:
        failures.append(str(exc))
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if failures:
            for log in sorted(logs.glob("*.log")):
                tail = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line or "ERROR" in line]
                if tail:
                    print(f"\n{log.name}:\n" + "\n".join(tail[-20:]))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(media, ignore_errors=True)
    print(f"\nsoak: {'FAILED' if failures else 'passed'} in {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


def _reconcile(run, first_entry: int) -> tuple[bool, str]:
    """The worker's journal file against the ledger: the same entries, the same amounts, summing to zero."""
    from apps.ledger.models import Entry
    from apps.reports.csv_reports import format_amount
    from apps.reports.registry import REGISTRY, parse_period

    kind = REGISTRY[run.report_type]
    start, end = parse_period(kind.period_kind, run.period).bounds(kind.time_zone)
    with run.file.open("rb") as fh:
        rows = list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8", newline="")))
    in_file = {int(row["entry_id"]): Decimal(row["amount"]) for row in rows}
    in_ledger = {pk: Decimal(format_amount(amount, currency)) for pk, amount, currency in
                 Entry.objects.filter(created_at__gte=start, created_at__lt=end).values_list("pk", "amount", "account__currency")}
    soak_entries = Entry.objects.filter(pk__gt=first_entry, created_at__gte=start, created_at__lt=end).count()
    ok = in_file == in_ledger and sum(in_file.values()) == 0 and soak_entries > 0 and len(rows) == run.rows
    return ok, (f"report totals reconcile with the ledger ({len(in_file)} entries in the file, {len(in_ledger)} in the ledger for "
                f"{run.period}, {soak_entries} of them from the soak; file total {sum(in_file.values())})")


if __name__ == "__main__":
    sys.exit(main())
