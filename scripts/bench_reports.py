#!/usr/bin/env python
"""Regulatory reports over a large ledger: rows/s and peak RSS of the daily CJD and the ledger journal.

Run by `make bench-reports` (not a test). Drops and recreates `<name>_reports_bench` next to the database
in DATABASE_URL, seeds one Madrid day of play with --entries ledger entries (default 1,000,000) over
--players wallets by bulk SQL (the posting services would take an hour; the reports only read), then
produces each report in a fresh process and prints its rows/s and peak RSS. Goal: peak RSS < 200 MB,
because rows stream from the database (iterator()) into the file in chunks.

    .venv/bin/python scripts/bench_reports.py [--entries 1000000] [--players 5000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/casino"
DAY = "2026-11-10"


def with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("PRIVATE_MEDIA_ROOT", str(ROOT / ".bench-private-media"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(url: str, *, entries: int, players: int) -> None:
    import psycopg
    from psycopg import sql

    admin = with_dbname(url, "postgres")
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    django_setup(url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    transactions = entries // 2
    started = time.perf_counter()
    with connection.cursor() as cur:
        # Users and players, a cash account each, one house account: all by set-based SQL.
        cur.execute(
            """
            INSERT INTO players_user (password, is_superuser, email, first_name, last_name, is_staff, is_active, date_joined)
            SELECT '!', false, 'bench' || g || '@example.es', 'Bench', 'Player' || g, false, true, timestamptz '2026-11-01'
            FROM generate_series(1, %s) g
            """,
            [players],
        )
        cur.execute(
            """
            INSERT INTO players_player (public_id, user_id, date_of_birth, country, currency, market, second_surname, nationality,
                sex, address_street, address_city, address_postcode, address_country, phone, phone_verified, email_verified,
                id_document_type, id_document_number, signup_device, device_id, is_test_player, status, status_reason,
                status_reason_code, legally_barred_register, created_at, updated_at)
            SELECT gen_random_uuid(), u.id, date '1980-01-01', 'ES', 'EUR', 'dgoj', '', 'ES', 'F', 'Calle 1', 'Madrid', '28001', 'ES',
                '+34600000000', true, true, 'ID', lpad(u.id::text, 8, '0') || 'Z', '', '', false, 'active', '', '', '',
                timestamptz '2026-11-01', timestamptz '2026-11-01'
            FROM players_user u WHERE u.email LIKE 'bench%%'
            """
        )
        cur.execute(
            """
            INSERT INTO ledger_account (player_id, kind, currency, shard, balance, created_at)
            SELECT id, 'player_cash', 'EUR', 0, 0, timestamptz '2026-11-01' FROM players_player
            UNION ALL SELECT NULL, 'house_game_revenue', 'EUR', 0, 0, timestamptz '2026-11-01'
            """
        )
        cur.execute("SELECT min(id), max(id) FROM ledger_account WHERE kind = 'player_cash'")
        first, last = cur.fetchone()
        cur.execute("SELECT id FROM ledger_account WHERE kind = 'house_game_revenue'")
        (house,) = cur.fetchone()
        # Alternating stakes and wins of 1.00 spread over the Madrid day (UTC 2026-11-09 23:00 to 11-10 23:00).
        cur.execute(
            """
            INSERT INTO ledger_ledgertransaction (kind, idempotency_key, fingerprint, reference, reason, metadata, created_at)
            SELECT CASE WHEN g %% 2 = 0 THEN 'bet' ELSE 'win' END, 'bench:' || g, '', 'round:' || (g / 2), '',
                   jsonb_build_object('game', 'slot-' || (g %% 7)),
                   timestamptz '2026-11-09 23:00:00+00' + (g * interval '86399 seconds' / %s)
            FROM generate_series(1, %s) g
            """,
            [transactions, transactions],
        )
        cur.execute(
            """
            INSERT INTO ledger_entry (transaction_id, account_id, amount, balance_after, kind, created_at)
            SELECT t.id, %s + (t.id %% (%s - %s + 1)), CASE WHEN t.kind = 'bet' THEN -100 ELSE 100 END, 0, t.kind, t.created_at
            FROM ledger_ledgertransaction t
            UNION ALL
            SELECT t.id, %s, CASE WHEN t.kind = 'bet' THEN 100 ELSE -100 END, 0, t.kind, t.created_at
            FROM ledger_ledgertransaction t
            """,
            [first, last, first, house],
        )
        cur.execute("ANALYZE")
    print(f"seeded {entries:,} entries, {players:,} players in {time.perf_counter() - started:.1f} s", flush=True)


def measure(url: str, code: str, period: str) -> None:
    """One report in this fresh process: rows/s and this process's peak RSS."""
    django_setup(url)
    from apps.reports.services import report_run_execute, report_run_request

    run = report_run_request(report_type=code, period=period, schedule_name="bench", enqueue=False)
    started = time.perf_counter()
    run = report_run_execute(run_id=run.pk)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = Path(run.file.path).stat().st_size / 1e6 if run.file else 0
    verdict = "OK" if peak_mb < 200 and run.status == "done" else "OVER BUDGET" if run.status == "done" else f"FAILED: {run.error[:200]}"
    print(
        f"{code:<22} {run.rows:>10,} rows  {elapsed:7.1f} s  {run.rows / elapsed:>10,.0f} rows/s  "
        f"file {size_mb:7.1f} MB  peak RSS {peak_mb:6.1f} MB  {verdict}",
        flush=True,
    )
    if run.status != "done" or peak_mb >= 200:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--players", type=int, default=5000)
    parser.add_argument("--step", choices=["all", "seed", "measure"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if args.step == "seed":
        seed(base, entries=args.entries, players=args.players)
    elif args.step == "measure":
        measure(base, args.code, DAY)
    else:
        # Each step in its own process: the seed's memory must not count towards a report's peak RSS.
        url = with_dbname(base, urlsplit(base).path.lstrip("/") + "_reports_bench")
        env = {**os.environ, "DATABASE_URL": url}
        me = [sys.executable, __file__, "--entries", str(args.entries), "--players", str(args.players)]
        subprocess.run([*me, "--step", "seed"], check=True, env=env)
        for code in ("ledger_journal_daily", "dgoj_cjd_daily"):
            subprocess.run([*me, "--step", "measure", "--code", code], check=True, env=env)


if __name__ == "__main__":
    main()
