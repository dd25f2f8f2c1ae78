#!/usr/bin/env python
"""Player search on 100,000 players: how long the admin's search takes for each kind of term. Goal: < 2 s.

Run by `make bench` (not a test: no timing in the test suite). Drops and recreates `<name>_players_bench`
next to the database in DATABASE_URL, migrates it, seeds --players players by set-based SQL (names with
accents, emails, phone numbers, a cash account each, a KYC case for a third), then for each term:

- `selector`: apps.players.selectors.player_search + the list's columns, counted and the first page fetched,
  i.e. the queries the changelist runs;
- `admin page`: the whole changelist request (/admin/players/player/?q=...) as a logged-in operator;

and prints the best and the median of --repeat runs, and the plan's index use (EXPLAIN). Writes
bench/results/players_search.json.

    .venv/bin/python bench/players_search.py [--players 100000] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/casino"
GOAL_SECONDS = 2.0

FIRST = ["José", "María", "Zoë", "Ingrid", "Łukasz", "François", "Ana", "Jürgen", "Søren", "Ines", "Oliver", "Chloé", "Mikko",
         "Aoife", "Luca", "Nuño", "Björn", "Élodie", "Ömer", "Siobhán"]
LAST = ["Núñez", "García", "Müller", "Schmidt", "Straße", "Kowalski", "Dubois", "Rossi", "Andersson", "Virtanen", "Smith",
        "Fernández", "Ó Briain", "Lindqvist", "Costa", "Peeters", "Borg", "Nordmann", "Weber", "Murphy"]


def with_dbname(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(url: str, *, players: int) -> float:
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
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO players_user (password, is_superuser, email, first_name, last_name, is_staff, is_active, date_joined,
                last_login)
            SELECT '!', false, 'player' || g || '@bench' || (g %% 97) || '.example.com',
                (%(first)s::text[])[1 + g %% %(nfirst)s], (%(last)s::text[])[1 + (g / %(nfirst)s) %% %(nlast)s] || ' ' || g,
                false, true, timestamptz '2026-01-01' + g * interval '1 minute', timestamptz '2026-11-01' + g * interval '1 second'
            FROM generate_series(1, %(players)s) g
            """,
            {"first": FIRST, "last": LAST, "nfirst": len(FIRST), "nlast": len(LAST), "players": players},
        )
        cur.execute(
            """
            INSERT INTO players_player (public_id, user_id, date_of_birth, country, currency, market, second_surname, nationality,
                sex, address_street, address_city, address_postcode, address_country, phone, phone_verified, email_verified,
                id_document_type, id_document_number, signup_device, device_id, is_test_player, status, status_reason,
                status_reason_code, legally_barred_register, created_at, updated_at)
            SELECT gen_random_uuid(), u.id, date '1980-01-01', 'ES', 'EUR', 'dgoj', '', 'ES', 'F', 'Calle 1', 'Madrid', '28001', 'ES',
                '+34 6' || lpad((u.id % 100)::text, 2, '0') || ' ' || lpad((u.id * 7919 % 1000000)::text, 6, '0'),
                true, true, 'ID', lpad(u.id::text, 8, '0') || 'Z', 'PC', '', false,
                CASE WHEN u.id % 50 = 0 THEN 'suspended' ELSE 'active' END, '', '', '', u.date_joined, u.date_joined
            FROM players_user u WHERE u.email LIKE '%@bench%'
            """
        )
        cur.execute(
            """
            INSERT INTO ledger_account (player_id, kind, currency, shard, balance, created_at)
            SELECT p.id, 'player_cash', 'EUR', 0, (p.id * 7331) % 500000, p.created_at FROM players_player p
            """
        )
        cur.execute(
            """
            INSERT INTO kyc_kyccase (state, reviewer_note, submitted_at, created_at, updated_at, player_id)
            SELECT 'submitted', '', p.created_at, p.created_at, p.created_at, p.id FROM players_player p WHERE p.id % 3 = 0
            """
        )
        cur.execute("ANALYZE players_user; ANALYZE players_player; ANALYZE ledger_account; ANALYZE kyc_kyccase")
    return time.perf_counter() - started


def terms(players: int) -> list[tuple[str, str]]:
    from apps.players.models import Player

    sample = Player.objects.select_related("user").order_by("pk")[players // 2]
    return [
        ("name, accents ignored", "jose nunez"),
        ("surname with ß typed as ss", "strasse 85"),
        ("part of an email", f"player{sample.pk}@"),
        ("email domain, many matches", "bench42.example"),
        ("phone as typed", sample.phone),
        ("phone digits, partial", sample.phone.replace(" ", "")[-7:]),
        ("internal id", str(sample.pk)),
        ("public id (UUID)", str(sample.public_id)),
        ("no match", "zzzz-nobody"),
    ]


def measure(players: int, repeat: int) -> list[dict]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from apps.core.player_list import annotate_player_columns
    from apps.players.models import Player, User
    from apps.players.selectors import player_search

    settings.ALLOWED_HOSTS = ["*"]
    operator = User.objects.create_superuser(email="bench-operator@casino.test", password="Bench-operator-2024!")
    client = Client()
    client.force_login(operator)
    results = []
    for label, term in terms(players):
        selector_times, page_times, matches = [], [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            queryset = player_search(annotate_player_columns(Player.objects.select_related("user")), term).order_by("-created_at")
            matches = queryset.count()
            list(queryset[:50])
            selector_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            response = client.get("/admin/players/player/", {"q": term})
            page_times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        queryset = player_search(Player.objects.all(), term)
        with connection.cursor() as cursor:
            sql, params = queryset.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        indexes = sorted({word.strip('"') for word in plan.replace("(", " ").split() if word.endswith(("_trgm", "_pkey", "_key"))})
        results.append({
            "term": label, "typed": term, "matches": matches,
            "selector_best_s": round(min(selector_times), 4), "selector_median_s": round(statistics.median(selector_times), 4),
            "admin_page_best_s": round(min(page_times), 4), "admin_page_median_s": round(statistics.median(page_times), 4),
            "indexes": indexes,
        })
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", DEFAULT_URL)
    name = urlsplit(base).path.lstrip("/") or "casino"
    url = with_dbname(base, f"{name}_players_bench")
    print(f"seeding {args.players:,} players into {urlsplit(url).path.lstrip('/')} ...", flush=True)
    seconds = seed(url, players=args.players)
    print(f"seeded in {seconds:.1f} s", flush=True)
    results = measure(args.players, args.repeat)
    worst = max(max(r["selector_median_s"], r["admin_page_median_s"]) for r in results)
    print(f"\n{'term':32} {'matches':>8} {'selector p50':>13} {'admin page p50':>15}  indexes")
    for r in results:
        print(f"{r['term']:32} {r['matches']:>8} {r['selector_median_s']:>12.3f}s {r['admin_page_median_s']:>14.3f}s  "
              f"{', '.join(r['indexes']) or 'none'}")
    print(f"\nslowest median: {worst:.3f} s (goal < {GOAL_SECONDS} s): {'OK' if worst < GOAL_SECONDS else 'OVER GOAL'}")
    out = ROOT / "bench" / "results" / "players_search.json"
    summary = {"players": args.players, "repeat": args.repeat, "goal_s": GOAL_SECONDS, "results": results}
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        import psycopg
        from psycopg import sql

        with psycopg.connect(with_dbname(base, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(urlsplit(url).path.lstrip("/"))))
    return 0 if worst < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
