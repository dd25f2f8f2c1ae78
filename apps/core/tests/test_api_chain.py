"""An API request without a cookie runs settings.API_MIDDLEWARE (apps.core.asgi._CookielessApiChain): the same answers.

Each request below goes through the project's ASGI handler twice: once without a cookie (the short chain) and once
with a cookie that names no session (the full MIDDLEWARE chain). Status, body and headers must match; what the
short chain leaves out (session, CSRF, authentication, django-otp, staff 2FA, messages) has nothing to act on.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from apps.core.asgi import BoundedThreads, SyncChainASGIHandler, _cookieless_api

pytestmark = pytest.mark.django_db(transaction=True)

COOKIE = (b"cookie", b"theme=dark")


def test_api_middleware_is_a_subsequence_of_middleware_in_its_order():
    positions = [settings.MIDDLEWARE.index(name) for name in settings.API_MIDDLEWARE]
    assert positions == sorted(positions)
    # What makes the short chain safe: the API authenticates by JWT only.
    assert settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] == ["apps.players.auth.JWTAuthentication"]


def test_only_cookieless_api_paths_take_the_short_chain():
    def scope(path, *headers):
        return {"path": path, "headers": [(b"host", b"testserver"), *headers]}

    assert _cookieless_api(scope("/api/v1/me"))
    assert not _cookieless_api(scope("/api/v1/me", COOKIE))
    assert not _cookieless_api(scope("/admin/"))
    assert not _cookieless_api(scope("/api/docs/"))


def _call(app, method: str, path: str, *, headers=(), body: bytes = b"") -> tuple[int, dict, dict[str, str]]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *headers],
    }
    sent: list[dict] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if pending:
            return pending.pop()
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], json.loads(content) if content else {}, response_headers


@pytest.fixture
def app():
    handler = SyncChainASGIHandler()
    assert handler._api is not None
    return BoundedThreads(handler, threads=1)


def _both(app, method, path, *, headers=(), body=b""):
    short = _call(app, method, path, headers=headers, body=body)
    full = _call(app, method, path, headers=(*headers, COOKIE), body=body)
    return short, full


def test_the_short_chain_answers_as_the_full_one(app, make_player, fund):
    player = make_player()
    fund(player, "20.00")
    bearer = (b"authorization", f"Bearer {AccessToken.for_user(player.user)}".encode())
    cases = [
        ("GET", "/api/v1/me", (bearer,), b""),
        ("GET", "/api/v1/me", (), b""),  # 401
        ("GET", "/api/v1/games", (bearer,), b""),
        ("GET", "/api/v1/responsible-gaming", (bearer,), b""),
        ("POST", "/api/v1/wallet/deposits", (bearer,), b'{"amount": "5.00", "method": "sandbox"}'),  # no key: 400
        ("POST", "/api/v1/no-such-thing", (bearer,), b"{}"),  # 404, not a CSRF refusal
        ("POST", "/api/v1/auth/token", (), json.dumps({"email": player.user.email, "password": "wrong"}).encode()),
    ]
    for method, path, headers, body in cases:
        (short_status, short_body, short_headers), (full_status, full_body, full_headers) = _both(
            app, method, path, headers=headers, body=body
        )
        assert (short_status, short_body) == (full_status, full_body), (method, path)
        assert short_headers == full_headers, (method, path)


def test_a_change_made_through_the_short_chain_is_in_the_history_under_the_player(app, make_player):
    from apps.limits.models import Limit

    player = make_player()
    bearer = (b"authorization", f"Bearer {AccessToken.for_user(player.user)}".encode())
    status, body, _ = _call(app, "PUT", "/api/v1/responsible-gaming/limits/deposit/day", headers=(bearer,),
                            body=b'{"amount": "100.00"}')
    assert status in (200, 201), body
    record = Limit.history.filter(player=player).latest("history_date")
    assert record.history_user_id == player.user.pk


def test_the_login_lock_out_works_through_the_short_chain(app, make_player):
    """django-axes is in API_MIDDLEWARE: after five failures the sixth attempt is refused with 429 (API.md)."""
    player = make_player()
    wrong = json.dumps({"email": player.user.email, "password": "wrong-password"}).encode()
    statuses = [_call(app, "POST", "/api/v1/auth/token", body=wrong)[0] for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
