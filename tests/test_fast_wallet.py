"""GET /api/v1/wallet on the ASGI fast path (apps.payments.fast_wallet) answers exactly as Django does, or lets Django answer.

Each fast answer is compared with Django's own answer to the same request (status, body, every header), and
every case the fast path must not answer itself is checked to reach Django. Transactional: the fast path reads
on its own async connections, which see only committed rows.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.core.money import Money
from apps.ledger.services import deposit_post
from apps.payments import fast_wallet
from apps.players.models import User

pytestmark = pytest.mark.django_db(transaction=True)

DELEGATED = 599


async def _django_stand_in(scope, receive, send):
    await send({"type": "http.response.start", "status": DELEGATED, "headers": []})
    await send({"type": "http.response.body", "body": b"delegated"})


def fast(headers: dict[str, str] | None = None, *, method: str = "GET", path: str = "/api/v1/wallet", query: bytes = b"",
         scheme: str = "http", enabled: bool = True) -> tuple[int, bytes, dict[str, str]]:
    """The request through FastWalletMiddleware in front of a stand-in for Django (status 599 = handed to Django)."""
    headers = {"Host": "testserver", **(headers or {})}
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "method": method, "path": path, "query_string": query, "headers": raw, "scheme": scheme,
             "root_path": "", "http_version": "1.1", "asgi": {"version": "3.0"}}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    async def run():
        middleware = fast_wallet.FastWalletMiddleware(_django_stand_in)
        middleware.enabled = enabled
        try:
            await middleware(scope, receive, send)
        finally:
            await fast_wallet.close()

    asyncio.run(run())
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], body, {k.decode(): v.decode() for k, v in start["headers"]}


def django(headers: dict[str, str] | None = None, **extra) -> tuple[int, bytes, dict[str, str]]:
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    response = APIClient().get("/api/v1/wallet", **meta, **extra)
    return response.status_code, response.content, {k.lower(): v for k, v in response.headers.items()}


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


@pytest.fixture(autouse=True)
def _clean_throttles():
    cache.clear()
    yield
    cache.clear()


def test_a_players_wallet_is_answered_with_djangos_bytes_and_headers(player, fund):
    fund(player, "25.00")
    headers = bearer(player.user)
    answer = fast(headers)
    assert answer[0] == 200
    assert answer == django(headers)
    assert b'"cash":"25.00"' in answer[1]


def test_a_wallet_with_no_postings_yet(player):
    headers = bearer(player.user)
    assert fast(headers) == django(headers)


def test_over_https_behind_the_proxy_hsts_matches(player, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    headers = {**bearer(player.user), "X-Forwarded-Proto": "https"}
    answer = fast(headers)
    assert answer[0] == 200 and "strict-transport-security" in answer[2]
    assert answer == django(headers)


def test_a_plain_http_request_that_django_would_redirect_goes_to_django(player, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert fast(bearer(player.user))[0] == DELEGATED


@pytest.mark.parametrize(
    "request_args",
    [
        {"method": "POST"},
        {"method": "HEAD"},
        {"path": "/api/v1/wallet/"},
        {"path": "/api/v1/wallet/transactions"},
        {"query": b"format=json"},
        {"extra": {"Accept": "text/html"}},
        {"extra": {"Content-Length": "3"}},
    ],
)
def test_other_requests_go_to_django(player, request_args):
    extra = request_args.pop("extra", {})
    assert fast({**bearer(player.user), **extra}, **request_args)[0] == DELEGATED


def test_bad_credentials_go_to_django(player, make_player, staff_user):
    token = str(AccessToken.for_user(player.user))
    refused = [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {token[:-3]}xyz"},  # forged signature
        {"Authorization": f"Bearer {RefreshToken.for_user(player.user)}"},  # a refresh token is not an access token
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {token} extra"},
        bearer(staff_user("operator")),  # staff: no wallet, Django's 403
    ]
    for headers in refused:
        assert fast(headers)[0] == DELEGATED, headers
        assert django(headers)[0] in (401, 403), headers
    inactive = make_player()
    headers = bearer(inactive.user)
    User.objects.filter(pk=inactive.user.pk).update(is_active=False)
    assert fast(headers)[0] == DELEGATED


def test_an_expired_token_goes_to_django_even_after_it_was_answered(player):
    headers = bearer(player.user)
    assert fast(headers)[0] == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert fast(headers)[0] == DELEGATED
        assert django(headers)[0] == 401


def test_a_host_django_would_refuse_goes_to_django(player):
    assert fast({**bearer(player.user), "Host": "evil.example"})[0] == DELEGATED
    assert fast({**bearer(player.user), "Host": "testserver:8000"})[0] == 200


def test_the_user_throttle_is_shared_with_django(player, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100/min", "user": "3/min"})
    headers = bearer(player.user)
    statuses = [fast(headers)[0], django(headers)[0], fast(headers)[0], fast(headers)[0]]
    assert statuses == [200, 200, 200, DELEGATED]  # the fourth within the minute is Django's to refuse
    refused = django(headers)
    assert refused[0] == 429 and int(refused[2]["retry-after"]) > 0


def test_turned_off_everything_goes_to_django(player):
    assert fast(bearer(player.user), enabled=False)[0] == DELEGATED


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_it_is_off_on_the_embedded_sqlite_database(settings):
    settings.DATABASES = {**settings.DATABASES, "default": {**settings.DATABASES["default"], "ENGINE": "django.db.backends.sqlite3"}}
    assert fast_wallet.FastWalletMiddleware(_django_stand_in).enabled is False
    settings.DATABASES = {**settings.DATABASES, "default": {**settings.DATABASES["default"], "ENGINE": "django.db.backends.postgresql"}}
    assert fast_wallet.FastWalletMiddleware(_django_stand_in).enabled is True


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_an_unreachable_database_goes_to_django(player, settings):
    headers = bearer(player.user)
    settings.DATABASES = {**settings.DATABASES, "default": {**settings.DATABASES["default"], "PORT": "1"}}
    assert fast(headers)[0] == DELEGATED


def test_balances_follow_postings_as_committed(player):
    headers = bearer(player.user)
    deposit_post(player=player, amount=Money(Decimal("10.00"), player.currency), idempotency_key="fast-wallet-1", reference="t")
    first = fast(headers)
    deposit_post(player=player, amount=Money(Decimal("2.50"), player.currency), idempotency_key="fast-wallet-2", reference="t")
    second = fast(headers)
    assert b'"cash":"10.00"' in first[1] and b'"cash":"12.50"' in second[1]
    assert second == django(headers)
