#!/usr/bin/env python
"""AML: every rule over 1,000,000 ledger entries of 10,000 players (the sweep), real-time evaluation after one deposit,
and the worker's real-time task on batches of consecutive postings (100 and 500, as the web's batcher sends them).

Run by `make bench` after the ledger benchmark (not a test). It drops and recreates `<name>_amlbench`
next to the database of DATABASE_URL (default postgres://postgres@127.0.0.1:5432/casino), so nothing
touches the real or the test databases. Players and accounts are made with the ORM; the 500,000
balanced transactions (1,000,000 entries) are generated in SQL, spread over 30 days: 15 % deposits,
3 % withdrawal requests, 60 % bets and 22 % wins, one deposit in a thousand large. Goal: the sweep under 10 s.

The sweep's time is the rules' SQL plus recording the alerts, printed apart. Recording is set-based
(one lock statement, one known-hits query, bulk inserts of alerts with their history rows and of hits):
on this machine, with ~1,100 players flagged, the sweep went from 111.6 s (recording one player at a
time, about ten statements each) to 12.2 s, of which about 5 s are the rules' SQL.

The batches are a seeded choice of ids, and the task is called by name, so the script run on the code before a
change and after it times the same work: a batch of 500 took 49.7 s and 8,003 queries evaluated one posting at a
time, 0.27 s and 19 queries in one pass (README, AML "Performance").

    .venv/bin/python scripts/bench_aml.py [--players 10000] [--transactions 500000] [--samples 200] [--batch-sizes 100,500]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import DEFAULT_URL, recreate_database, with_dbname

ROOT = Path(__file__).resolve().parent.parent


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["AML_REALTIME_EVALUATION"] = "0"  # the data is generated, not posted: nothing to enqueue
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def generate(players: int, transactions: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from apps.ledger.models import Account, AccountKind
    from apps.players.models import Player, User

    call_command("migrate", verbosity=0, interactive=False)
    users = User.objects.bulk_create(
        User(email=f"aml-bench-{n}@casino.test", password="!", first_name="Bench", last_name=f"Player{n}") for n in range(players)
    )
    made = Player.objects.bulk_create(
        Player(user=user, date_of_birth=date(1990, 1, 1), country="DE", currency="EUR") for user in users
    )
    Account.objects.bulk_create(Account(player=p, kind=AccountKind.PLAYER_CASH, currency="EUR") for p in made)
    Account.objects.bulk_create([
        Account(kind=AccountKind.PSP_CLEARING, currency="EUR"), Account(kind=AccountKind.HOUSE_GAME_REVENUE, currency="EUR"),
    ])
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE pmap AS SELECT (row_number() OVER (ORDER BY id)) - 1 AS p, id AS account_id "
            "FROM ledger_account WHERE kind = 'player_cash'"
        )
        cursor.execute("""
            CREATE TEMP TABLE gen AS
            SELECT g, (g %% %s) AS p, kind, created_at,
                   CASE kind WHEN 'deposit' THEN CASE WHEN random() < 0.001 THEN 600000 ELSE 1000 + floor(random() * 49000) END
                             WHEN 'withdrawal' THEN 2000 + floor(random() * 48000)
                             ELSE 100 + floor(random() * 4900) END::bigint AS amount
            FROM (SELECT g, CASE WHEN r < 0.15 THEN 'deposit' WHEN r < 0.18 THEN 'withdrawal'
                                 WHEN r < 0.78 THEN 'bet' ELSE 'win' END AS kind,
                         now() - random() * interval '30 days' AS created_at
                  FROM (SELECT g, random() AS r FROM generate_series(1, %s) g) s) k
        """, [players, transactions])
        cursor.execute("""
            INSERT INTO ledger_ledgertransaction (kind, idempotency_key, fingerprint, reference, reason, metadata, created_at)
            SELECT kind, 'bench:' || g, '', 'bench', '', '{}'::jsonb, created_at FROM gen ORDER BY g
        """)
        psp = Account.objects.get(kind=AccountKind.PSP_CLEARING).pk
        revenue = Account.objects.get(kind=AccountKind.HOUSE_GAME_REVENUE).pk
        house = f"CASE WHEN gen.kind IN ('deposit', 'withdrawal') THEN {psp} ELSE {revenue} END"
        sign = "CASE WHEN gen.kind IN ('deposit', 'win') THEN 1 ELSE -1 END"
        cursor.execute(f"""
            INSERT INTO ledger_entry (transaction_id, account_id, amount, balance_after, kind, created_at)
            SELECT t.id, side.account_id, side.amount, 0, gen.kind, gen.created_at
            FROM gen JOIN ledger_ledgertransaction t ON t.idempotency_key = 'bench:' || gen.g
            JOIN pmap ON pmap.p = gen.p
            CROSS JOIN LATERAL (VALUES (pmap.account_id, {sign} * gen.amount), ({house}, -{sign} * gen.amount)) AS side(account_id, amount)
        """)
        cursor.execute("ANALYZE")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--transactions", type=int, default=500_000, help="Each has two entries.")
    parser.add_argument("--samples", type=int, default=200, help="Real-time evaluations timed for the p95.")
    parser.add_argument("--batch-sizes", default="100,500",
                        help="Sizes of the batches of consecutive postings given to the real-time task (the web sends up to 500).")
    parser.add_argument("--batches", type=int, default=3, help="Batches timed per size.")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    name = f"{base_url.rsplit('/', 1)[-1] or 'casino'}_amlbench"
    recreate_database(base_url, name)
    setup(with_dbname(base_url, name))

    started = time.perf_counter()
    generate(args.players, args.transactions)
    from apps.aml.services import evaluate_transaction, monitoring_sweep
    from apps.ledger.models import Entry, LedgerTransaction

    print(f"generated {Entry.objects.count():,} entries for {args.players:,} players in {time.perf_counter() - started:.1f} s")

    from django.db.models import Q

    from apps.aml import rules
    from apps.aml.selectors import enabled_rules
    from apps.core import clock

    started = time.perf_counter()
    hits = rules.evaluate(anchors=rules.anchors_for(Q(transaction_id__gt=0)), now=clock.now(), player_ids=None, rules=enabled_rules())
    print(f"rules alone (SQL, read-only): {time.perf_counter() - started:.2f} s, {len(hits)} hits "
          f"on {len({h.player_id for h in hits})} players")

    started = time.perf_counter()
    result = monitoring_sweep()
    sweep_seconds = time.perf_counter() - started
    print(f"sweep (rules + recording), transactions {result.from_id + 1}..{result.to_id}: {sweep_seconds:.2f} s "
          f"({result.alerts} alerts; goal < 10 s)")

    deposits = list(LedgerTransaction.objects.filter(kind="deposit").order_by("?").values_list("id", flat=True)[: args.samples])
    timings = []
    for transaction_id in deposits:
        started = time.perf_counter()
        evaluate_transaction(transaction_id=transaction_id)
        timings.append(time.perf_counter() - started)
    p95 = statistics.quantiles(timings, n=20)[-1] * 1000
    print(f"real-time evaluation after one deposit: p50 {statistics.median(timings) * 1000:.1f} ms, p95 {p95:.1f} ms "
          f"({len(timings)} samples)")

    # The worker's real-time task as the web's PostingBatcher sends it: the ids a process committed within one window,
    # consecutive postings of every kind. The same batches (a seeded choice) on every run, so a run of this script on
    # the code before a change and one after compare like with like.
    from django.db import connection
    from django.db.models import Max, Min

    from apps.aml.tasks import evaluate_transactions

    executed = [0]

    def count(execute, sql, params, many, context):
        executed[0] += 1
        return execute(sql, params, many, context)

    bounds = LedgerTransaction.objects.aggregate(low=Min("id"), high=Max("id"))
    choose = random.Random(7)
    for size in (int(n) for n in args.batch_sizes.split(",")):
        seconds, queries = [], []
        for _ in range(args.batches):
            first = choose.randint(bounds["low"], bounds["high"] - size + 1)
            executed[0] = 0
            with connection.execute_wrapper(count):
                started = time.perf_counter()
                evaluate_transactions(list(range(first, first + size)))
                seconds.append(time.perf_counter() - started)
            queries.append(executed[0])
        print(f"real-time task on a batch of {size} postings: {statistics.median(seconds):.2f} s median "
              f"({', '.join(f'{t:.2f}' for t in seconds)}; {statistics.median(seconds) / size * 1000:.1f} ms per posting; "
              f"{statistics.median(queries):.0f} queries)")


if __name__ == "__main__":
    main()
