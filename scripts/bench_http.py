#!/usr/bin/env python
"""The HTTP part of `make bench`: the Procfile's web server, production settings, PostgreSQL and Redis.

Run by scripts/bench.py after the service-level scenarios (so its figures come from the same run), or on
its own. It recreates `<name>_http` next to the database in DATABASE_URL, migrates it, registers players
with funded wallets, an open dice session each and a Caleta launch token each, starts the `web:` line of
the Procfile on a loopback port with production settings, and loads four endpoints:

- `trivial`: GET /healthz/live (no database): what the server and Django cost with no work behind them;
- `wallet`: GET /api/v1/wallet (JWT, one player's balances);
- `round`: POST /api/v1/game-sessions/{id}/rounds, a new Idempotency-Key each (a whole dice round);
- `caleta_bet`: POST /api/v1/providers/caleta/wallet/bet, RSA-signed, a new transaction each.

Each endpoint first in a closed loop (`--clients` connections sending back to back: the throughput), then
in an open loop at half that throughput (requests sent at fixed intervals whatever the answers, latency
counted from the moment each was due, so a stall is not hidden by the client waiting: no coordinated
omission). The load generator is a small asyncio HTTP/1.1 client (keep-alive, no library), so it costs the
two shared cores as little as possible; bodies are signed before the measurement starts.

Bounded: every phase has a fixed duration, the server is stopped and the database dropped at the end.

    .venv/bin/python scripts/bench_http.py [--clients 50] [--seconds 8] [--port 8110] [--output file.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/casino"
STAKE = "1.00"
CALETA_STAKE_UNITS = 100_000  # 1.00 EUR in the family's hundred-thousandths


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="Closed-loop connections (and players).")
    parser.add_argument("--seconds", type=float, default=8.0, help="Measured seconds per endpoint and mode.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Unmeasured seconds before each closed loop.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_HTTP_PORT", "8110")))
    parser.add_argument("--endpoints", default="trivial,wallet,round,caleta_bet")
    parser.add_argument("--output", type=Path, default=None, help="Also write the rows as JSON here.")
    parser.add_argument(
        "--server-command", default="", help="Serve with this command instead of the Procfile's web: line (to compare servers)."
    )
    parser.add_argument("--setup-only", type=Path, default=None, help=argparse.SUPPRESS)  # internal: the setup subprocess
    return parser.parse_args(argv)


def with_dbname(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def server_environment(db_url: str, port: int) -> dict[str, str]:
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/4"
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        DJANGO_SECRET_KEY="bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-0123456789",
        JWT_SIGNING_KEY="bench-jwt-key-0123456789abcdefghijklmnopqrstuvwxyz-0123456789",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        PSP_WEBHOOK_SECRET="bench-psp",
        SECURE_SSL_REDIRECT="false",  # no TLS terminator in front of it here
        PORT=str(port),
        # The measurement is about the server and the database, not the throttles.
        THROTTLE_USER="100000000/min",
        THROTTLE_ANON="100000000/min",
        LOG_LEVEL="WARNING",
        # AML's per-posting evaluation is a task on a worker; no worker runs here, and the broker is Redis.
    )
    return env


def procfile_web() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit("The Procfile has no web: line.")


# --- Setup (in a subprocess with the server's settings) -----------------------------------------


def setup(out: Path, clients: int) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from datetime import date
    from decimal import Decimal

    from django.core.management import call_command
    from django.test.utils import override_settings
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.core.money import Money
    from apps.games import crypto
    from apps.games.models import Game, GameKind, Provider
    from apps.games.seed import seed_demo_games
    from apps.games.services import game_register, launch_create, provider_key_set, session_open
    from apps.ledger.services import deposit_post
    from apps.players.services import player_register

    call_command("migrate", verbosity=0, interactive=False)
    seed_demo_games()
    private_pem, public_pem = crypto.rsa_keypair()
    provider, _ = provider_key_set(code="caleta", public_key_pem=public_pem)
    Provider.objects.filter(pk=provider.pk).update(currencies=["EUR"])
    provider.refresh_from_db()
    caleta_game, _ = game_register(
        slug="bench-clt-fruits", name="Fruits", kind=GameKind.SLOTS, rtp=Decimal("96.00"),
        stake_limits={"EUR": {"min": 10, "max": 1_000_000}}, provider=provider, provider_game_code="clt_fruits",
    )
    dice = Game.objects.get(slug="dice")
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_kyc import approve_kyc, bench_officer

    officer = bench_officer()
    players = []
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for n in range(clients):
            player = player_register(
                email=f"http-bench-{n}@casino.test", password="Bench-passphrase-42", first_name="Bench", last_name=f"Http{n}",
                date_of_birth=date(1990, 1, 1), country="DE", currency="EUR",
            )
            approve_kyc(player, officer)  # verified, as heavy players are (scripts/bench_kyc.py)
            deposit_post(player=player, amount=Money(Decimal("1000000.00"), "EUR"), idempotency_key=f"http-bench:{n}", reference="bench")
            session = session_open(player=player, game=dice)
            launch = launch_create(player=player, game=caleta_game)
            players.append({
                "access": str(AccessToken.for_user(player.user)),
                "session": session.pk,
                "launch": launch.token,
                "public_id": str(player.public_id),
            })
    out.write_text(json.dumps({"players": players, "private_pem": private_pem, "game_code": "clt_fruits"}))


# --- Load generator ------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; enough of the protocol for our own server's answers."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        reused = self.writer is not None
        status = await self._request(raw)
        if status == 0 and reused:
            # The server closed the idle keep-alive connection (uvicorn: after 5 s) before this request reached it:
            # what any HTTP client does, send it again on a new connection.
            status = await self._request(raw)
        return status

    async def _request(self, raw: bytes) -> int:
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await self.reader.readexactly(length)
            if close:
                self.close()
            return status
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def http_request(method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Endpoint:
    """Makes the next request for client `n` (each client plays its own player, so rounds do not queue on one session)."""

    expected = 200

    def __init__(self, name: str, data: dict):
        self.name, self.data = name, data
        self.players = data["players"]
        self.failed: dict[int, int] = {}  # status -> count (0: no answer), for the report

    def next(self, n: int) -> bytes:
        raise NotImplementedError


class Trivial(Endpoint):
    def next(self, n: int) -> bytes:
        return http_request("GET", "/healthz/live")


class Wallet(Endpoint):
    def next(self, n: int) -> bytes:
        player = self.players[n % len(self.players)]
        return http_request("GET", "/api/v1/wallet", headers={"Authorization": f"Bearer {player['access']}"})


class RoundPlay(Endpoint):
    expected = 201

    def next(self, n: int) -> bytes:
        player = self.players[n % len(self.players)]
        headers = {"Authorization": f"Bearer {player['access']}", "Idempotency-Key": uuid.uuid4().hex}
        return http_request("POST", f"/api/v1/game-sessions/{player['session']}/rounds", headers=headers, body=b'{"stake": "1.00"}')


class CaletaBet(Endpoint):
    """Each request a new transaction, signed before the clock starts (signing is the provider's cost, not ours)."""

    def __init__(self, name: str, data: dict, signed: list[list[bytes]]):
        super().__init__(name, data)
        self.signed = signed

    def next(self, n: int) -> bytes:
        queue = self.signed[n % len(self.signed)]
        if queue:
            return queue.pop()
        return sign_bet(self.data, n % len(self.players))  # ran out: sign now (the client's CPU, not the server's)


_KEYS: dict[str, object] = {}


def sign_bet(data: dict, index: int) -> bytes:
    """A bet body signed as apps.games.crypto.rsa_sign signs (PKCS#1 v1.5, SHA-256, base64), the key loaded once."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = _KEYS.get(data["private_pem"])
    if key is None:
        key = _KEYS[data["private_pem"]] = serialization.load_pem_private_key(data["private_pem"].encode(), password=None)
    player = data["players"][index]
    body = json.dumps({
        "token": player["launch"], "request_uuid": str(uuid.uuid4()), "user": player["public_id"], "game_code": data["game_code"],
        "currency": "EUR", "transaction_uuid": str(uuid.uuid4()), "round": uuid.uuid4().hex, "amount": CALETA_STAKE_UNITS,
        "round_closed": False,
    }).encode()
    signature = base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
    return http_request("POST", "/api/v1/providers/caleta/wallet/bet", headers={"X-Auth-Signature": signature}, body=body)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))]


async def closed_loop(endpoint: Endpoint, port: int, clients: int, warmup: float, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    sent = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + seconds

    async def client(n: int) -> None:
        nonlocal errors, sent
        connection = Connection(port)
        while (now := loop.time()) < end:
            status = await connection.request(endpoint.next(n))
            sent += 1
            done = loop.time()
            if now >= start and done <= end:
                latencies.append(done - now)
                if status != endpoint.expected:
                    errors += 1
                    endpoint.failed[status] = endpoint.failed.get(status, 0) + 1
        connection.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    return {**summary(endpoint, "closed", clients, None, latencies, errors, seconds), "requests": sent}


async def open_loop(endpoint: Endpoint, port: int, rate: float, seconds: float, max_connections: int = 400) -> dict:
    """Requests due at fixed intervals; each on an idle keep-alive connection, or a new one (up to a bound)."""
    latencies: list[float] = []
    errors = 0
    idle: list[Connection] = []
    opened = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    total = int(rate * seconds)
    tasks = []

    async def one(n: int, due: float) -> None:
        nonlocal errors, opened
        connection = idle.pop() if idle else None
        if connection is None:
            opened += 1
            connection = Connection(port)
        status = await connection.request(endpoint.next(n))
        latencies.append(loop.time() - due)
        if status != endpoint.expected:
            errors += 1
            endpoint.failed[status] = endpoint.failed.get(status, 0) + 1
        idle.append(connection)

    for n in range(total):
        due = start + n / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if opened - len(idle) >= max_connections and not idle:
            errors += 1  # the bound: counted as a failure, never silently dropped
            continue
        tasks.append(asyncio.ensure_future(one(n, due)))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    return {**summary(endpoint, "open", opened, rate, latencies, errors, seconds), "requests": len(latencies)}


def summary(
    endpoint: Endpoint, mode: str, clients: int, offered: float | None, latencies: list[float], errors: int, seconds: float
) -> dict:
    latencies.sort()
    return {
        "endpoint": endpoint.name,
        "mode": mode,
        "clients": clients,
        "offered_rps": None if offered is None else round(offered, 1),
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "errors": errors,
    }


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of every live process in the server's process group: on a shared machine the
    throughput measures the neighbours too, the CPU spent per request measures the server alone."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_until_serving(port: int, server: subprocess.Popen, deadline: float, workers: int = 8) -> None:
    """Until /healthz/live answers 200 several times in a row: the port opens (the supervisor binds it) before the
    workers have loaded Django, and their start-up must not be counted in the first endpoint's figures."""
    import http.client

    answered = 0
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"The web server exited with {server.returncode}.")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/healthz/live")
            answered = answered + 1 if conn.getresponse().status == 200 else 0
            conn.close()
        except OSError:
            answered = 0
        if answered >= workers * 4:
            time.sleep(1.0)  # the last workers finish importing
            return
        time.sleep(0.05 if answered else 0.3)
    raise SystemExit("The web server did not start in time.")


def run(args: argparse.Namespace, base_url: str | None = None) -> dict:
    """Set up, serve, load; returns {"server": ..., "rows": [...]}."""
    import psycopg

    base_url = base_url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    name = f"{urlsplit(base_url).path.lstrip('/') or 'casino'}_http"
    db_url = with_dbname(base_url, name)
    env = server_environment(db_url, args.port)
    with psycopg.connect(with_dbname(base_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    data_file = Path(f"/tmp/bench-http-{os.getpid()}.json")
    server = None
    try:
        print(f"HTTP: setting up {name} ({args.clients} players) ...", flush=True)
        subprocess.run([sys.executable, __file__, "--setup-only", str(data_file), "--clients", str(args.clients)],
                       cwd=ROOT, env=env, check=True, timeout=600)
        data = json.loads(data_file.read_text())
        command = args.server_command or procfile_web()
        print(f"HTTP: starting the Procfile's web server: {command}", flush=True)
        path = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        server = subprocess.Popen(["bash", "-c", f"exec env {command}"], cwd=ROOT, env={**env, "PATH": path}, start_new_session=True)
        wait_until_serving(args.port, server, time.monotonic() + 120)
        rows = asyncio.run(load(args, data, lambda: group_cpu_seconds(server.pid)))
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        # Every round and bet above moved money over HTTP: the ledger's invariants must still hold.
        check = subprocess.run(
            [sys.executable, "manage.py", "verify_ledger"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        verdict = (check.stdout + check.stderr).strip().splitlines()
        print(f"HTTP: verify_ledger on {name}: {' '.join(verdict[-2:])}", flush=True)
        return {"server": command, "rows": rows, "verify_ledger": "ok" if check.returncode == 0 else "breached"}
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        data_file.unlink(missing_ok=True)
        with psycopg.connect(with_dbname(base_url, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def load(args: argparse.Namespace, data: dict, cpu) -> list[dict]:
    try:
        import uvloop  # the load generator's own loop: cheaper per request on the shared cores

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    names = args.endpoints.split(",")
    rows = []
    for name in names:
        if name == "caleta_bet":
            # Enough signed bodies for the closed and the open loop at a generous rate, signed before measuring.
            needed = int(400 * (args.seconds * 1.5 + args.warmup)) // max(1, len(data["players"])) + 1
            signed = [[sign_bet(data, i) for _ in range(needed)] for i in range(len(data["players"]))]
            endpoint: Endpoint = CaletaBet(name, data, signed)
        else:
            endpoint = {"trivial": Trivial, "wallet": Wallet, "round": RoundPlay}[name](name, data)
        before = cpu()
        closed = await closed_loop(endpoint, args.port, args.clients, args.warmup, args.seconds)
        closed["server_cpu_ms_per_request"] = cpu_per_request(cpu() - before, closed["requests"])
        print(format_row(closed), flush=True)
        rows.append(closed)
        before = cpu()
        opened = await open_loop(endpoint, args.port, max(1.0, closed["rps"] / 2), args.seconds)
        opened["server_cpu_ms_per_request"] = cpu_per_request(cpu() - before, opened["requests"])
        print(format_row(opened), flush=True)
        rows.append(opened)
        if endpoint.failed:
            print(f"  {name}: unexpected statuses {endpoint.failed}", flush=True)
    return rows


def cpu_per_request(seconds: float, requests: int) -> float | None:
    return round(seconds * 1000 / requests, 2) if requests else None


def format_row(row: dict) -> str:
    offered = f"{row['offered_rps']:>7.0f}" if row["offered_rps"] is not None else f"{'-':>7}"
    cpu = row.get("server_cpu_ms_per_request") or 0
    return (f"{row['endpoint']:<11} {row['mode']:<6} {row['clients']:>7} {offered} {row['rps']:>7.0f} "
            f"{row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['errors']:>6} {cpu:>8.2f}")


HEADER = (
    f"{'endpoint':<11} {'mode':<6} {'clients':>7} {'offered':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
    f"{'errors':>6} {'cpu ms/r':>8}"
)


def main() -> None:
    args = parse_args()
    if args.setup_only is not None:
        setup(args.setup_only, args.clients)
        return
    random.seed(0)
    result = run(args)
    print(f"verify_ledger: {result['verify_ledger']}")
    print(HEADER)
    for row in result["rows"]:
        print(format_row(row))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
