"""The database connection killed on paths tests/test_db_faults.py does not reach (issue #13, faults):
while the idempotency store records the answer, and inside the provider wallet endpoints of both
protocols. Each answers a clean 503 `service_unavailable` with the error shape and Retry-After (never
a 500), a retry completes exactly once, and the OpenAPI schema documents the 503 on every operation.

Kills are pg_terminate_backend of the request thread's own backend, on this test database only
(tests/test_db_faults.Backends records the pids its worker threads open).
"""

from __future__ import annotations

import itertools
import json
import threading
from decimal import Decimal

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.test import RequestFactory
from rest_framework.test import APIClient

from apps.core import services as core_services
from apps.core.models import IdempotentRequest
from apps.core.money import Money
from apps.core.testing import run_together
from apps.games import crypto, services
from apps.games.models import ProviderTransaction
from apps.games.tests.conftest import caleta_keys, caleta_provider, generic_provider  # noqa: F401 - fixtures
from apps.ledger import engine
from apps.ledger.checks import verify_ledger
from apps.ledger.selectors import wallet_balances
from apps.payments.models import Deposit
from tests.test_db_faults import WORKER_PREFIX, assert_clean_unavailable, backends, wsgi_post  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def _wsgi_signed(path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, dict, dict]:
    environ = RequestFactory().post(path, data=raw, content_type="application/json", **headers).environ
    started: dict = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = int(status.split()[0]), dict(response_headers)

    response = WSGIHandler()(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()
    return started["status"], started["headers"], json.loads(content) if content else {}


def _kill_first_call(monkeypatch, backends, target, name: str) -> None:  # noqa: F811
    """The first call of `target.name` in a worker thread has that thread's backend killed just before it runs."""
    original = getattr(target, name)
    calls = itertools.count()

    def killed_once(*args, **kwargs):
        if next(calls) == 0:
            assert backends.kill_current_thread()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, killed_once)


def _in_worker(work):
    def run(_: int):
        threading.current_thread().name = f"{WORKER_PREFIX}-0"
        try:
            return work()
        finally:
            connections.close_all()

    (result,) = run_together(1, run)
    if isinstance(result, BaseException):
        raise result
    return result


def test_killed_while_the_idempotency_store_records_the_answer(player, backends, monkeypatch):  # noqa: F811
    """The deposit is posted, then the connection dies as its answer is stored: all of it rolls back together."""
    from rest_framework_simplejwt.tokens import RefreshToken

    token = str(RefreshToken.for_user(player.user).access_token)
    _kill_first_call(monkeypatch, backends, core_services, "_idempotency_store")
    body = {"amount": "10.00", "method": "sandbox"}
    deposit = lambda: wsgi_post("/api/v1/wallet/deposits", body, token=token, key="store-1")  # noqa: E731
    failed, retried, replayed = _in_worker(lambda: [deposit() for _ in range(3)])
    assert_clean_unavailable(*failed)
    assert retried[0] == 201 and replayed[0] == 201 and replayed[2] == retried[2]
    assert Deposit.objects.count() == 1 and IdempotentRequest.objects.count() == 1
    assert wallet_balances(player=player).cash == Money(Decimal("10.00"), "EUR")
    assert verify_ledger().ok


def test_killed_inside_a_generic_provider_bet(generic_provider, player, fund, backends, monkeypatch):  # noqa: F811
    fund(player, "100.00")
    _kill_first_call(monkeypatch, backends, engine, "_post_in_database")
    raw = json.dumps({"player_id": str(player.public_id), "round_id": "r1", "transaction_id": "t-kill", "amount": "10.00",
                      "currency": "EUR"}).encode()
    headers = {"HTTP_X_SIGNATURE": crypto.hmac_hex(generic_provider.secret, raw)}
    path = f"/api/v1/providers/{generic_provider.provider.code}/bet"
    failed, retried, replayed = _in_worker(lambda: [_wsgi_signed(path, raw, headers) for _ in range(3)])
    assert_clean_unavailable(*failed)
    assert retried[0] == 200 and retried[2]["balance"] == "90.00" and replayed[2] == retried[2]
    assert ProviderTransaction.objects.count() == 1
    assert wallet_balances(player=player).cash == Money(Decimal("90.00"), "EUR")
    assert verify_ledger().ok


def test_killed_inside_a_caleta_bet(caleta_provider, player, fund, backends, monkeypatch):  # noqa: F811
    fund(player, "100.00")
    token = services.launch_create(player=player, game=caleta_provider.game).token
    _kill_first_call(monkeypatch, backends, engine, "_post_in_database")
    raw = json.dumps({"token": token, "request_uuid": "4f1c0a52-7c4e-4a43-9a53-4a3f1b6e2d10", "user": str(player.public_id),
                      "game_code": caleta_provider.game.provider_game_code, "currency": "EUR", "round": "r1",
                      "transaction_uuid": "9b1c2d3e-0000-4000-8000-000000000001", "amount": 1_000_000, "round_closed": False}).encode()
    headers = {"HTTP_X_AUTH_SIGNATURE": crypto.rsa_sign(caleta_provider.private_pem, raw)}
    failed, retried, replayed = _in_worker(lambda: [_wsgi_signed("/api/v1/providers/caleta/wallet/bet", raw, headers) for _ in range(3)])
    # Not an RS_* body: a dependency failed, the provider retries the call later, as on a timeout.
    assert_clean_unavailable(*failed)
    assert retried[2]["status"] == "RS_OK" and retried[2]["balance"] == 9_000_000 and replayed[2] == retried[2]
    assert ProviderTransaction.objects.count() == 1
    assert verify_ledger().ok


def test_the_schema_documents_503_with_retry_after_on_every_operation():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    money = {("/api/v1/wallet/deposits", "post"), ("/api/v1/wallet/withdrawals", "post"), ("/api/v1/game-sessions/{id}/rounds", "post"),
             ("/api/v1/providers/{code}/bet", "post"), ("/api/v1/providers/caleta/wallet/bet", "post")}
    seen = set()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            unavailable = operation["responses"].get("503")
            assert unavailable is not None, (method, path)
            assert "Retry-After" in unavailable["headers"]
            assert unavailable["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            seen.add((path.replace("{session_id}", "{id}"), method))
    assert money <= seen, money - seen
