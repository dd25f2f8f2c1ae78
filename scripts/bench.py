#!/usr/bin/env python
"""Ledger postings per second through the service layer, next to pgbench TPC-B on the same server.

Run by `make bench` (not a test). Each run drops and recreates two databases next to the one in
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/casino): `<name>_bench` for the ledger
and `<name>_pgbench` for TPC-B, so nothing touches the real or the test databases.

Clients are processes, not threads: the Python work of a posting would otherwise queue on the GIL
and we would measure the interpreter, not the ledger. Each client alternates a stake and a win of
1.00 on one shared wallet, or on a random wallet of many, through two paths:

- "game": bet_post / win_post, as the provider wallet API calls them; the stake includes the
  responsible-gaming protection_check (apps.limits) and its per-player lock;
- "engine": the same postings through transaction_post, the posting engine alone (account locks,
  idempotency key, balance check, entries, cached balances, on-commit event);
- "round": a whole in-house dice round through games.services.round_play (the session's lock and
  nonce, the protection check, the stake, the provably fair outcome, the win when there is one, the
  round's record), stake 1.00 at the default target; counted in postings (1 per lost round, 2 per won).

pgbench runs with the same number of clients before the first scenario and after each one, each after
a CHECKPOINT and a warm-up like the ledger's; a scenario's ratio is to the mean of the two pgbench runs
around it (the machine's load drifts during a run). Goals (issue #13): engine on many
wallets >= 0.55, one hot wallet >= 0.30; a whole round on many wallets >= 0.45.

It prints a table and writes bench/results/latest.json (machine, pgbench tps, each scenario's rate and
ratio under a stable name: engine_hot, engine_many, game_hot, game_many, round_hot, round_many), so runs
can be compared over time. --profile runs client 0 of each scenario under pyinstrument and writes the
call tree to bench/profiles/<name>.txt (that client is slowed by it: take numbers from a run without).

    .venv/bin/python scripts/bench.py [--clients 4] [--seconds 8] [--wallets 1000] [--server-side-binding] [--profile]
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing as mp
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/casino"
RESULTS = ROOT / "bench" / "results"
PROFILES = ROOT / "bench" / "profiles"
PATHS = {
    "game": "stake_place + win_post (with limits check)",
    "engine": "transaction_post (posting engine)",
    "round": "games round_play (whole dice round)",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="Concurrent clients, for the ledger and for pgbench (-c).")
    parser.add_argument("--seconds", type=int, default=8, help="Measured duration of each scenario and of pgbench (-T).")
    parser.add_argument("--wallets", type=int, default=1000, help="Wallets in the many-wallets scenario.")
    parser.add_argument("--scale", type=int, default=0, help="pgbench scale (-s); default: the number of clients.")
    parser.add_argument("--warmup", type=float, default=1.5, help="Unmeasured seconds before each scenario.")
    parser.add_argument(
        "--server-side-binding",
        action="store_true",
        help="Run the ledger with psycopg server-side binding and prepared statements (Django's OPTIONS "
        "server_side_binding / prepare_threshold), to see what that setting would buy.",
    )
    parser.add_argument("--profile", action="store_true", help="Profile client 0 of each scenario into bench/profiles/ (pyinstrument).")
    parser.add_argument(
        "--only", default="", help="Comma-separated scenario names to run (e.g. engine_many,round_many); default: all."
    )
    parser.add_argument("--no-http", action="store_true", help="Skip the HTTP part (scripts/bench_http.py).")
    parser.add_argument("--http-clients", type=int, default=50, help="Closed-loop HTTP clients.")
    parser.add_argument(
        "--http-port", type=int, default=int(os.environ.get("BENCH_HTTP_PORT", "8110")), help="Loopback port of the web server."
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json", help="Where to write the results as JSON.")
    return parser.parse_args()


def scenario_name(scenario: str, path: str) -> str:
    """The stable name latest.json uses: engine_many, engine_hot, round_many, ..."""
    return f"{path}_{'hot' if scenario.startswith('1 hot') else 'many'}"


# --- Databases --------------------------------------------------------------------------------


def with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_dbname(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def checkpoint(url: str) -> None:
    """Start each measurement with clean buffers, so one phase's dirty pages do not slow the next."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass  # Not a superuser: the numbers are a little noisier, nothing more.


# --- pgbench ----------------------------------------------------------------------------------


def pgbench_binary() -> str:
    found = shutil.which("pgbench") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None)
    if not found:
        sys.exit("pgbench not found: install the PostgreSQL client tools.")
    return found


def pgbench_tps(url: str, *, scale: int, clients: int, seconds: int, warmup: float, initialise: bool) -> float:
    parts = urlsplit(url)
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    conn_args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", unquote(parts.username or "postgres")]
    dbname = parts.path.lstrip("/")
    binary = pgbench_binary()
    if initialise:
        subprocess.run([binary, "-i", "-q", "-s", str(scale), *conn_args, dbname], check=True, env=env, capture_output=True)
    checkpoint(url)
    command = [binary, "-c", str(clients), "-j", str(min(clients, 2)), *conn_args, dbname]
    # The same treatment as the ledger's clients: a checkpoint, an unmeasured warm-up, then the measure.
    subprocess.run([*command, "-T", str(max(1, round(warmup)))], check=True, env=env, capture_output=True)
    run = subprocess.run([*command, "-T", str(seconds)], check=True, env=env, capture_output=True, text=True)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    if not match:
        sys.exit(f"Could not read pgbench's tps:\n{run.stdout}\n{run.stderr}")
    return float(match.group(1))


# --- The ledger -------------------------------------------------------------------------------


def django_setup(url: str, *, server_side_binding: bool = False) -> None:
    os.environ["DATABASE_URL"] = url
    # base, not local: DEBUG off, so Django does not keep every query in memory while we count.
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the apps' INFO start-up lines would bury the table
    os.environ.pop("CELERY_BROKER_URL", None)  # on-commit events run their eager handlers, as in `make run`
    # ... except AML's per-posting evaluation: in production it is a task on a worker, not part of the posting.
    os.environ["AML_REALTIME_EVALUATION"] = "0"
    os.environ["REALTIME_PUSH"] = "0"  # nor the WebSocket pushes (apps/backoffice/realtime.py)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    if server_side_binding:
        from django.db import connections

        # Before the first connection opens; the project's settings leave both off (Django's default).
        connections["default"].settings_dict["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}


def open_wallets(numbers: list[int]) -> list[int]:
    """Register players through the players service and fund them through the ledger; returns their ids."""
    from bench_kyc import approve_kyc, bench_officer
    from django.db import connection
    from django.test.utils import override_settings

    from apps.core.money import Money
    from apps.games.models import Game
    from apps.games.services import session_open
    from apps.ledger.services import deposit_post
    from apps.players.services import player_register

    officer = bench_officer()
    ids = []
    try:
        # Hashing 1,000 passwords with PBKDF2 would take most of the run and measures nothing we care about.
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            for n in numbers:
                player = player_register(
                    email=f"bench-{n}@casino.test",
                    password="Bench-passphrase-42",
                    first_name="Bench",
                    last_name=f"Player{n}",
                    date_of_birth=date(1990, 1, 1),
                    country="DE",
                    currency="EUR",
                )
                approve_kyc(player, officer)  # verified, as heavy players are (scripts/bench_kyc.py)
                # Enough that alternating 1.00 stakes and wins never run a wallet dry, whatever the interleaving.
                funds = Money(Decimal("100000.00" if n == 0 else "1000.00"), "EUR")
                deposit_post(player=player, amount=funds, idempotency_key=f"bench-fund:{n}", reference="bench")
                # Every wallet has an open dice session for the "round" path (opening one is not what we measure).
                session_open(player=player, game=Game.objects.get(slug="dice"))
                ids.append(player.pk)
    finally:
        connection.close()
    return ids


def prepare_ledger(*, wallets: int, clients: int) -> tuple[int, list[int]]:
    """Migrate, then open the wallets in `clients` processes (setup is not what we measure)."""
    from bench_kyc import bench_officer
    from django.core.management import call_command
    from django.db import connections

    from apps.games.seed import seed_demo_games

    call_command("migrate", verbosity=0, interactive=False)
    seed_demo_games()  # the in-house dice game the "round" path plays
    bench_officer()  # once, before the clients fork: they approve their players' KYC with it
    connections.close_all()
    numbers = list(range(wallets + 1))
    with mp.get_context("fork").Pool(clients) as pool:
        chunks = pool.map(open_wallets, [numbers[i::clients] for i in range(clients)])
    by_number = dict(zip([n for i in range(clients) for n in numbers[i::clients]], [pk for chunk in chunks for pk in chunk], strict=True))
    return by_number[0], [by_number[n] for n in numbers[1:]]


def client(
    path: str, scenario: str, number: int, player_ids: list[int], warmup: float, seconds: float, barrier, results, profile: bool = False
) -> None:
    """One client process: a stake then a win of 1.00 on a chosen wallet, as fast as the ledger allows.

    path "game": games.stake_place/win_post, as the provider wallet API calls them (the stake includes the
    responsible-gaming protection_check). path "engine": the same two postings through
    transaction_post, the posting engine alone (locks, idempotency, balance check, entries).
    """
    from django.db import connection

    from apps.core.money import Money
    from apps.games.services import stake_place
    from apps.ledger.models import AccountKind, TransactionKind
    from apps.ledger.services import Posting, counterparty_shard, player_accounts, system_account, transaction_post, win_post
    from apps.players.models import Player

    stake = Money(Decimal("1.00"), "EUR")
    players = list(Player.objects.filter(pk__in=player_ids))
    # The engine path looks the accounts up once: it measures the posting itself, as bet_post/win_post do it
    # (the player's cash against the player's shard of house revenue).
    cash, house = {}, {}
    if path == "engine":
        for player in players:
            cash[player.pk] = player_accounts(player=player).cash
            house[player.pk] = system_account(kind=AccountKind.HOUSE_GAME_REVENUE, currency="EUR", shard=counterparty_shard(player))
    sessions = {}
    if path == "round":
        from apps.games.models import GameSession

        sessions = dict(GameSession.objects.filter(player_id__in=player_ids, status="open").values_list("player_id", "pk"))
    rng = random.Random(number)
    round_no = 0

    def play(player, ref: str) -> int:
        if path == "round":
            from apps.games.services import round_play

            played = round_play(player=player, session_id=sessions[player.pk], stake=stake, choices={}, idempotency_key=ref[-64:])
            return 1 + (played.payout_minor > 0)
        if path == "game":
            stake_place(player=player, amount=stake, idempotency_key=f"{ref}:bet", reference=ref)
            win_post(player=player, amount=stake, idempotency_key=f"{ref}:win", reference=ref)
            return 2
        for kind, sign in ((TransactionKind.BET, -1), (TransactionKind.WIN, 1)):
            transaction_post(
                kind=kind,
                idempotency_key=f"{ref}:{kind}",
                postings=[Posting(cash[player.pk], sign * stake.minor), Posting(house[player.pk], -sign * stake.minor)],
                reference=ref,
            )
        return 2

    def play_until(deadline: float) -> tuple[int, int]:
        """(postings, operations): an operation is a round on the round path, a stake + win pair on the others."""
        nonlocal round_no
        postings = operations = 0
        while time.perf_counter() < deadline:
            round_no += 1
            operations += 1
            postings += play(players[0] if len(players) == 1 else rng.choice(players), f"bench:{path}:{scenario}:{number}:{round_no}")
        return postings, operations

    try:
        barrier.wait()
        play_until(time.perf_counter() + warmup)
        barrier.wait()
        profiler = None
        if profile and number == 0:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        started = time.perf_counter()
        postings, operations = play_until(started + seconds)
        results.put((postings, operations, time.perf_counter() - started))
        if profiler is not None:
            profiler.stop()
            PROFILES.mkdir(parents=True, exist_ok=True)
            header = f"# scripts/bench.py --profile: {PATHS[path]}, {scenario}, client 0 of the scenario, {postings} postings\n"
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            (PROFILES / f"{scenario_name(scenario, path)}.txt").write_text(header + text)
    finally:
        connection.close()


def run_scenario(
    path: str, scenario: str, *, clients: int, player_ids: list[int], warmup: float, seconds: float, profile: bool = False
) -> float:
    from django.db import connections

    connections.close_all()  # each forked client opens its own connection
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(clients)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=client, args=(path, scenario, n, player_ids, warmup, seconds, barrier, results, profile))
        for n in range(clients)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=warmup + seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            sys.exit(f"A client of {path} / {scenario} failed (exit code {proc.exitcode}).")
    elapsed = max(took for _, _, took in outcomes)
    return sum(postings for postings, _, _ in outcomes) / elapsed, sum(operations for _, operations, _ in outcomes) / elapsed


def main() -> None:
    args = parse_args()
    base_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    base_name = urlsplit(base_url).path.lstrip("/") or "casino"
    ledger_url = with_dbname(base_url, f"{base_name}_bench")
    pgbench_url = with_dbname(base_url, f"{base_name}_pgbench")
    scale = args.scale or args.clients
    began = time.perf_counter()
    load = os.getloadavg()  # other work on the machine skews everything: recorded with the results

    print(f"Recreating {urlsplit(ledger_url).path[1:]} and {urlsplit(pgbench_url).path[1:]} ...", flush=True)
    recreate_database(base_url, urlsplit(ledger_url).path[1:])
    recreate_database(base_url, urlsplit(pgbench_url).path[1:])

    django_setup(ledger_url, server_side_binding=args.server_side_binding)
    setup_started = time.perf_counter()
    hot_id, many_ids = prepare_ledger(wallets=args.wallets, clients=args.clients)
    print(f"Migrated, registered and funded {args.wallets + 1} players in {time.perf_counter() - setup_started:.1f}s.", flush=True)

    # pgbench runs between the scenarios too, and each scenario's ratio is to the pgbench runs right before
    # and after it: on a machine shared with other work the load changes within a run, and a ratio to a
    # pgbench measured a minute earlier would measure the neighbours, not the ledger.
    def pgbench(initialise: bool = False) -> float:
        return pgbench_tps(pgbench_url, scale=scale, clients=args.clients, seconds=args.seconds, warmup=args.warmup, initialise=initialise)

    print(f"pgbench TPC-B: scale {scale}, {args.clients} clients, {args.seconds}s ...", flush=True)
    tps_runs = [pgbench(initialise=True)]

    rates: dict[tuple[str, str], float] = {}
    operations: dict[tuple[str, str], float] = {}
    adjacent: dict[tuple[str, str], float] = {}
    for scenario, ids in (("1 hot wallet", [hot_id]), (f"{args.wallets} wallets", many_ids)):
        for path in ("game", "engine", "round"):
            if args.only and scenario_name(scenario, path) not in args.only.split(","):
                continue
            print(f"Ledger: {scenario}, {PATHS[path]}, {args.clients} client processes, {args.seconds}s ...", flush=True)
            checkpoint(ledger_url)
            rates[(scenario, path)], operations[(scenario, path)] = run_scenario(
                path, scenario, clients=args.clients, player_ids=ids, warmup=args.warmup, seconds=args.seconds, profile=args.profile
            )
            print(f"pgbench TPC-B, {args.seconds}s ...", flush=True)
            tps_runs.append(pgbench())
            adjacent[(scenario, path)] = (tps_runs[-2] + tps_runs[-1]) / 2
    tps = sum(tps_runs) / len(tps_runs)

    print()
    runs = " / ".join(f"{t:.0f}" for t in tps_runs)
    print(f"pgbench TPC-B (scale {scale}, -c {args.clients} -j {min(args.clients, 2)}): {runs} tps, mean {tps:.0f}")
    print()
    binding = "server-side binding + prepared statements" if args.server_side_binding else "client-side binding (the project's default)"
    print(f"Ledger: {args.clients} client processes, psycopg {binding}; ratio to the pgbench runs right before and after")
    print(f"{'scenario':<15} {'path':<41} {'postings/s':>10} {'pgbench tps':>11} {'ratio':>6}")
    for (scenario, path), rate in rates.items():
        around = adjacent[(scenario, path)]
        print(f"{scenario:<15} {PATHS[path]:<41} {rate:>10.0f} {around:>11.0f} {rate / around:>6.2f}")

    for (scenario, path), rate in operations.items():
        if path == "round":
            print(f"{scenario:<15} rounds/s (1 posting if lost, 2 if won): {rate:.0f}")

    http = None
    if not args.no_http:
        http = run_http(args, base_url)
        print_http_goals(http["rows"], operations.get((f"{args.wallets} wallets", "round")))

    from apps.ledger.checks import verify_ledger

    report = verify_ledger()
    print()
    ledger_ok = report.ok and (http is None or http["verify_ledger"] == "ok")
    if http is not None:
        print(f"verify_ledger after the HTTP run: {http['verify_ledger'].upper()}")
    print(
        f"verify_ledger: {'OK' if report.ok else 'BREACHED'} "
        f"({report.transactions} transactions, {report.entries} entries, {report.accounts} accounts)"
    )
    for breach in report.breaches:
        print(f"  BREACH: {breach}")
    write_results(
        args,
        tps=tps,
        tps_runs=tps_runs,
        rates=rates,
        adjacent=adjacent,
        binding=binding,
        load=load,
        ledger_ok=ledger_ok,
        server_version=server_version(ledger_url),
        http=http,
        operations=operations,
    )
    print(f"Results in {args.output}{'; profiles in ' + str(PROFILES) if args.profile else ''}.")
    print(f"Total run time {time.perf_counter() - began:.0f}s.")
    if not ledger_ok:
        sys.exit(1)


def server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def run_http(args, base_url: str) -> dict:
    """The HTTP part (scripts/bench_http.py) against the Procfile's web server, in this same run; prints its table."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_http

    http_args = bench_http.parse_args(["--clients", str(args.http_clients), "--seconds", str(args.seconds), "--port", str(args.http_port)])
    result = bench_http.run(http_args, base_url)
    print()
    print(f"HTTP: {result['server']}, production settings, {args.http_clients} closed-loop clients, open loop at half their rate")
    print(bench_http.HEADER)
    for row in result["rows"]:
        print(bench_http.format_row(row))
    return result


def print_http_goals(rows: list[dict], service_rounds: float | None) -> None:
    """Issue #13's HTTP goals against this run's own figures (the round goals are relative to round_many's rounds/s)."""
    by = {(row["endpoint"], row["mode"]): row for row in rows}
    print()
    for endpoint in ("round", "caleta_bet"):
        closed, opened = by.get((endpoint, "closed")), by.get((endpoint, "open"))
        if closed and service_rounds:
            p95 = opened["p95_ms"] if opened else float("nan")
            print(f"HTTP goal {endpoint}: closed {closed['rps']:.0f} req/s = {closed['rps'] / service_rounds:.2f} x round_many's "
                  f"{service_rounds:.0f} rounds/s (goal >= 0.5); open p95 {p95:.1f} ms (goal < 50)")
    wallet = by.get(("wallet", "closed"))
    if wallet:
        print(f"HTTP goal wallet: closed {wallet['rps']:.0f} req/s (goal >= 1000), p95 {wallet['p95_ms']:.1f} ms (goal < 150)")


def write_results(
    args, *, tps: float, tps_runs: list[float], rates: dict, adjacent: dict, binding: str, load, ledger_ok: bool, server_version: str,
    http: dict | None = None, operations: dict | None = None,
) -> None:
    """bench/results/latest.json: what ran where, pgbench's rate and each scenario's rate and ratio to it."""
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "hostname": platform.node(),
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in load],
            "python": platform.python_version(),
            "postgresql": server_version,
        },
        "clients": args.clients,
        "seconds": args.seconds,
        "wallets": args.wallets,
        "binding": binding,
        "profiled": args.profile,
        "pgbench_tps": round(tps, 1),
        "pgbench_runs": [round(t, 1) for t in tps_runs],
        "scenarios": [
            {
                "name": scenario_name(scenario, path),
                "description": f"{scenario}, {PATHS[path]}",
                "per_second": round(rate, 1),
                "pgbench_tps": round(adjacent[(scenario, path)], 1),
                "ratio": round(rate / adjacent[(scenario, path)], 3),
                **({"rounds_per_second": round(operations[(scenario, path)], 1)} if path == "round" and operations else {}),
            }
            for (scenario, path), rate in rates.items()
        ],
        "http_server": None if http is None else http["server"],
        "http": [] if http is None else http["rows"],
        "verify_ledger": "ok" if ledger_ok else "breached",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
