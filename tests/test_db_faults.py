"""The database connection killed in the middle of money requests: deposits and game rounds (issue #13, faults).

Requests go through Django's real WSGI handler, as gunicorn's sync workers call it: the request_started
and request_finished signals run close_old_connections, so a connection broken by a failed request is
closed at its end (the test client skips that). Connections are persistent (CONN_MAX_AGE) without health
checks, the worst case for reuse. Another connection kills the request's backend with pg_terminate_backend:
only backends of this test database that this test's worker threads opened (their pids are recorded
when Django connects them).

Every request must answer 201 or a clean 503 `service_unavailable` with the error shape and Retry-After,
never a 500; retrying with the same Idempotency-Key completes each deposit exactly once; verify_ledger holds.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from decimal import Decimal

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.test import RequestFactory
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.models import IdempotentRequest
from apps.core.money import Money
from apps.core.testing import run_together
from apps.games import services as games_services
from apps.games.models import Game, Round
from apps.games.seed import seed_demo_games
from apps.games.services import session_open
from apps.ledger import engine
from apps.ledger.checks import verify_ledger
from apps.ledger.models import LedgerTransaction, TransactionKind
from apps.ledger.selectors import wallet_balances
from apps.payments.models import Deposit

pytestmark = pytest.mark.django_db(transaction=True)

DEPOSITS_URL = "/api/v1/wallet/deposits"
WORKER_PREFIX = "db-fault-worker"
MAX_ATTEMPTS = 40
RANDOM_KILLS = 12


class Backends:
    """The backend pids of the connections this test's worker threads opened, and a connection of our own to kill them."""

    def __init__(self, settings_dict: dict) -> None:
        self.pids: dict[str, int] = {}
        self.lock = threading.Lock()
        self.killed_pids: set[int] = set()
        self.killer = psycopg.connect(
            host=settings_dict["HOST"] or "127.0.0.1",
            port=settings_dict["PORT"] or 5432,
            user=settings_dict["USER"],
            password=settings_dict["PASSWORD"] or None,
            dbname=settings_dict["NAME"],
            autocommit=True,
        )

    def record(self, sender, connection, **kwargs) -> None:
        name = threading.current_thread().name
        if name.startswith(WORKER_PREFIX):
            with self.lock:
                self.pids[name] = connection.connection.info.backend_pid

    def kill(self, pid: int) -> bool:
        """pg_terminate_backend from our own connection, waiting (up to 5 s) until the backend is gone."""
        with self.lock:
            if pid not in self.pids.values():
                return False
            row = self.killer.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid = %s",
                [pid],
            ).fetchone()
            if row and row[0]:
                self.killed_pids.add(pid)
            return bool(row and row[0])

    def kill_current_thread(self) -> bool:
        return self.kill(self.pids.get(threading.current_thread().name, -1))

    def close(self) -> None:
        self.killer.close()


@pytest.fixture
def backends(monkeypatch):
    # Persistent connections and no health check: a broken connection would be reused unless the failed
    # request's end closes it.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    tracker = Backends(connection.settings_dict)
    connection_created.connect(tracker.record)
    yield tracker
    connection_created.disconnect(tracker.record)
    tracker.close()


def wsgi_post(path: str, body: dict, *, token: str, key: str) -> tuple[int, dict, dict]:
    """One request through Django's WSGI handler, closed as a WSGI server closes it (request_finished)."""
    environ = RequestFactory().post(
        path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY=key
    ).environ
    started: dict = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = int(status.split()[0]), dict(headers)

    response = WSGIHandler()(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()
    return started["status"], started["headers"], json.loads(content) if content else {}


def assert_clean_unavailable(status: int, headers: dict, body: dict) -> None:
    assert status == 503, (status, body)
    assert body["error"]["code"] == "service_unavailable"
    assert set(body["error"]) == {"code", "message", "details"}
    assert int(headers["Retry-After"]) >= 1


def test_a_killed_connection_answers_503_and_the_next_request_reconnects(player, backends, monkeypatch):
    """Killed half-way (after the deposit row, at the posting): 503, nothing left; the same thread's next request works."""
    token = str(RefreshToken.for_user(player.user).access_token)
    post = engine._post_in_database
    calls = itertools.count()

    def killed_before_the_first_posting(args):
        if next(calls) == 0:
            assert backends.kill_current_thread()
        return post(args)

    monkeypatch.setattr(engine, "_post_in_database", killed_before_the_first_posting)
    seen = []

    def worker(_: int):
        threading.current_thread().name = f"{WORKER_PREFIX}-0"
        seen.append(wsgi_post(DEPOSITS_URL, {"amount": "10.00", "method": "sandbox"}, token=token, key="fault-1"))
        # The broken connection is not what this thread holds now: it was dropped by the failed request
        # (the rollback that failed, or close_old_connections at its end), whatever reconnected since.
        seen.append(
            connection.connection is None or (connection.connection.info.backend_pid not in backends.killed_pids and connection.is_usable())
        )
        seen.append(wsgi_post(DEPOSITS_URL, {"amount": "10.00", "method": "sandbox"}, token=token, key="fault-1"))
        seen.append(wsgi_post(DEPOSITS_URL, {"amount": "10.00", "method": "sandbox"}, token=token, key="fault-1"))
        connections.close_all()

    assert run_together(1, worker) == [None]
    (failed, closed, retried, replayed) = seen
    assert_clean_unavailable(*failed)
    assert closed is True
    assert retried[0] == 201 and retried[2]["status"] == "completed"
    assert replayed[0] == 201 and replayed[2] == retried[2]
    assert Deposit.objects.count() == 1 and IdempotentRequest.objects.count() == 1
    assert wallet_balances(player=player).cash == Money(Decimal("10.00"), "EUR")
    assert len(backends.killed_pids) == 1
    assert verify_ledger().ok


def test_a_burst_of_deposits_and_rounds_with_connections_killed_mid_posting(make_player, backends, monkeypatch):
    """Four workers deposit and play dice rounds (stakes and wins) while connections die at random and at chosen
    points: never a 500, each key done exactly once."""
    players = [make_player() for _ in range(4)]
    tokens = {p.pk: str(RefreshToken.for_user(p.user).access_token) for p in players}
    seed_demo_games()  # a transactional test starts from empty tables, the migration's games included
    sessions = {p.pk: session_open(player=p, game=Game.objects.get(slug="dice")).pk for p in players}
    requests_each = 10  # even: a deposit of 1.00; odd: a dice round staking 0.10

    # Chosen points, so the test cannot pass without kills landing mid-posting: the first attempt of every
    # third request (a deposit or a round) has its connection killed just before ledger_post, of the next one just after it wrote
    # (before COMMIT). Per worker and attempt, so no interleaving of the workers can starve one of them.
    # A deposit posts through the ledger's one statement, a plain round through the games' one (games_round_post).
    attempt = threading.local()

    def with_kills(post):
        def post_with_kills(args):
            chosen = attempt.request % 3 if getattr(attempt, "number", None) == 0 else None
            if chosen == 0:
                backends.kill_current_thread()
            row = post(args)
            if chosen == 1:
                backends.kill_current_thread()
            return row

        return post_with_kills

    monkeypatch.setattr(engine, "_post_in_database", with_kills(engine._post_in_database))
    monkeypatch.setattr(games_services, "_round_post_in_database", with_kills(games_services._round_post_in_database))

    # And at random moments: authentication, the idempotency record, the deposit row, COMMIT, between requests.
    # A bounded number of them: on a busy machine a slow request could otherwise be killed at every attempt.
    stop = threading.Event()

    def random_killer():
        rng = random.Random(13)
        for _ in range(RANDOM_KILLS):
            if stop.wait(rng.uniform(0.005, 0.04)):
                return
            with backends.lock:
                pids = list(backends.pids.values())
            if pids:
                backends.kill(rng.choice(pids))

    killer = threading.Thread(target=random_killer, daemon=True)
    killer.start()

    def worker(n: int):
        threading.current_thread().name = f"{WORKER_PREFIX}-{n}"
        player = players[n]
        outcomes = []
        try:
            for i in range(requests_each):
                key = f"burst-{n}-{i}"
                if i % 2 == 0:
                    path, payload = DEPOSITS_URL, {"amount": "1.00", "method": "sandbox"}
                else:
                    path = f"/api/v1/game-sessions/{sessions[player.pk]}/rounds"
                    payload = {"stake": "0.10", "target": "50.00", "direction": "over"}
                attempt.request = i
                for attempt.number in range(MAX_ATTEMPTS):
                    status, headers, body = wsgi_post(path, payload, token=tokens[player.pk], key=key)
                    outcomes.append((key, status, headers, body))
                    if status != 503:
                        break
        finally:
            connections.close_all()
        return outcomes

    try:
        results = run_together(len(players), worker, timeout=120)
    finally:
        stop.set()
        killer.join(timeout=10)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    outcomes = [o for r in results for o in r]
    unexpected = [(key, status, body) for key, status, _, body in outcomes if status not in (201, 503)]
    assert not unexpected, unexpected
    for _, status, headers, body in outcomes:
        if status == 503:
            assert_clean_unavailable(status, headers, body)
    unavailable = sum(status == 503 for _, status, _, _ in outcomes)
    assert unavailable >= len(players) * 7  # the chosen kills alone answer a 503 each (7 of each worker's 10 requests)
    # Every key ended in a success, each exactly once.
    final = {key: (status, body) for key, status, _, body in outcomes}
    assert all(status == 201 for status, _ in final.values()), final
    assert len(final) == len(players) * requests_each
    deposits = {key: body for key, (_, body) in final.items() if int(key.rsplit("-", 1)[1]) % 2 == 0}
    rounds = {key: body for key, (_, body) in final.items() if int(key.rsplit("-", 1)[1]) % 2 == 1}
    assert Deposit.objects.count() == len(deposits) == len({body["id"] for body in deposits.values()})
    assert Round.objects.count() == len(rounds) == len({body["id"] for body in rounds.values()})
    assert IdempotentRequest.objects.count() == len(final)
    assert LedgerTransaction.objects.filter(kind=TransactionKind.DEPOSIT).count() == len(deposits)
    assert LedgerTransaction.objects.filter(kind=TransactionKind.BET).count() == len(rounds)
    assert LedgerTransaction.objects.filter(kind=TransactionKind.WIN).count() == sum(Decimal(b["payout"]) > 0 for b in rounds.values())
    for n, player in enumerate(players):
        payouts = sum(Decimal(body["payout"]) for key, body in rounds.items() if key.startswith(f"burst-{n}-"))
        expected = Decimal("1.00") * (requests_each // 2) - Decimal("0.10") * (requests_each // 2) + payouts
        assert wallet_balances(player=player).cash == Money(expected, "EUR")
    report = verify_ledger()
    assert report.ok, report.breaches
