"""GET /api/v1/wallet answered on the ASGI event loop, for the wallet SLO (issue #13: 1,000 req/s, p95 < 150 ms).

The wallet read is the most frequent request a casino front end makes (after every spin, on every page). Through
Django it costs the ASGI handler, a thread hop, twelve middlewares, DRF's dispatch, a throttle and two
queries: about 2 ms of CPU before any work for even a trivial view on this machine, which alone caps two
cores below the SLO (README, "Web servers"). This path answers the one request shape that matters, a GET with a
valid player's bearer token, with the same bytes and headers as WalletApi, from one query on an async
connection, without leaving the event loop. Everything else goes to Django unchanged:

- another method, path, query string, a body, an Accept header other than none, */* or application/json;
- a host Django would refuse, or a plain-HTTP request Django would redirect (SECURE_SSL_REDIRECT);
- a missing, malformed, forged, expired or non-access token; an unknown, inactive or revoked user; a user
  with no player (staff): Django answers those with its exact 401/403;
- a request over the user throttle (Django counts it too and answers 429 with Retry-After);
- any error here at all (database or Redis unreachable, anything unexpected): Django answers, so a failing
  dependency still gets its clean 503, never a 500 from this path.

The rules are the same ones, not copies: the token is verified by simplejwt (apps.players.auth), the throttle is
the same sliding-window counter on the same Redis keys (apps.core.throttling/cache), the balances are
formatted by the ledger's WalletBalances and rendered by DRF's JSONRenderer. tests/test_fast_wallet.py checks
that both paths give the same status, body and headers for every case above. WALLET_FAST_PATH=0 turns it off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)

PATH = "/api/v1/wallet"
_ACCEPTABLE = frozenset({None, b"*/*", b"application/json"})


class _LoopState:
    """The async database pool and Redis client of one event loop (a uvicorn worker has one)."""

    def __init__(self) -> None:
        self.pool: Any = None
        self.redis: Any = None
        self.script: Any = None
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        from psycopg.conninfo import make_conninfo
        from psycopg_pool import AsyncConnectionPool

        db = settings.DATABASES["default"]
        options = {k: v for k, v in db.get("OPTIONS", {}).items() if k in ("sslmode", "sslrootcert", "sslcert", "sslkey", "options")}
        conninfo = make_conninfo(
            dbname=db["NAME"], user=db.get("USER") or None, password=db.get("PASSWORD") or None,
            host=db.get("HOST") or None, port=str(db["PORT"]) if db.get("PORT") else None, **options,
        )
        size = int(getattr(settings, "WALLET_FAST_PATH_DB_CONNECTIONS", 2))
        # autocommit: each read sees what is committed now, as Django's autocommit connection does.
        pool = AsyncConnectionPool(conninfo, min_size=1, max_size=size, open=False, timeout=2.0, kwargs={"autocommit": True})
        await pool.open(wait=False)
        self.pool = pool
        cache_location = settings.CACHES["default"].get("LOCATION")
        if settings.CACHES["default"]["BACKEND"] == "apps.core.cache.DegradingRedisCache" and cache_location:
            import redis.asyncio

            from apps.core.cache import WINDOW_HITS_LUA

            location = cache_location[0] if isinstance(cache_location, list | tuple) else cache_location
            self.redis = redis.asyncio.Redis.from_url(location, socket_connect_timeout=0.5, socket_timeout=0.5)
            self.script = self.redis.register_script(WINDOW_HITS_LUA)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self.redis is not None:
            await self.redis.aclose()
        self.pool = self.redis = self.script = None


_STATES: dict[int, _LoopState] = {}


async def _state() -> _LoopState:
    loop = asyncio.get_running_loop()
    state = _STATES.get(id(loop))
    if state is None:
        state = _STATES[id(loop)] = _LoopState()
    if state.pool is None:
        async with state.lock:
            if state.pool is None:
                await state.open()
    return state


async def close() -> None:
    """Close this event loop's pool and Redis client (tests; a worker's are closed with its process)."""
    state = _STATES.pop(id(asyncio.get_running_loop()), None)
    if state is not None:
        await state.close()


def _header(scope: dict, name: bytes) -> bytes | None:
    found = None
    for key, value in scope["headers"]:
        if key == name:
            if found is not None:
                return b"\x00"  # repeated: not the simple case
            found = value
    return found


def _is_secure(scope: dict) -> bool:
    if scope.get("scheme") == "https":
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name = proxy[0].removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = _header(scope, name)
        return value is not None and value.split(b",")[0].strip().decode("latin-1") == proxy[1]
    return False


def _host_allowed(scope: dict) -> bool:
    host = _header(scope, b"host")
    if host is None or host == b"\x00":
        return False
    domain, _port = split_domain_port(host.decode("latin-1"))
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def _response_headers(body: bytes, secure: bool) -> list[tuple[bytes, bytes]]:
    """What WalletApi's 200 carries after DRF and the security middlewares (pinned by tests/test_fast_wallet.py)."""
    headers = [
        (b"content-type", b"application/json"),
        (b"allow", b"GET, HEAD, OPTIONS"),
        (b"x-frame-options", settings.X_FRAME_OPTIONS.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if secure and settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append((b"strict-transport-security", hsts.encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        policy = policy if isinstance(policy, str) else ",".join(policy)
        headers.append((b"referrer-policy", policy.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
    return headers


def _simple_request(scope: dict) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "GET"
        and scope["path"] == PATH
        and not scope.get("query_string")
        and not scope.get("root_path")
        and _header(scope, b"accept") in _ACCEPTABLE
        and _header(scope, b"content-length") in (None, b"0")
        and _header(scope, b"transfer-encoding") is None
    )


async def _answer(scope: dict) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
    """The wallet's 200 for a valid player's token, or None when Django should answer."""
    from rest_framework_simplejwt.settings import api_settings as jwt_settings
    from rest_framework_simplejwt.utils import get_md5_hash_password

    from apps.core.throttling import UserRateThrottle
    from apps.ledger.selectors import WALLET_FOR_USER_SQL, wallet_balances_from
    from apps.players.auth import verified_access_token

    secure = _is_secure(scope)
    if (settings.SECURE_SSL_REDIRECT and not secure) or not _host_allowed(scope):
        return None
    authorization = _header(scope, b"authorization")
    if authorization is None or jwt_settings.USER_ID_FIELD != "id":
        return None
    scheme, _, raw = authorization.partition(b" ")
    if scheme not in {h.encode() for h in jwt_settings.AUTH_HEADER_TYPES} or not raw or b" " in raw:
        return None
    token = verified_access_token(raw)
    if token is None:
        return None
    payload = token.payload
    user_id = payload.get(jwt_settings.USER_ID_CLAIM)
    try:
        user_id = user_id if type(user_id) is int else int(str(user_id))
    except (TypeError, ValueError):
        return None

    state = await _state()
    async with state.pool.connection() as conn:
        cursor = await conn.execute(WALLET_FOR_USER_SQL, (user_id,))
        rows = await cursor.fetchall()
    if not rows:
        return None  # no such user, or no player: Django's 401/403
    is_active, password, currency = rows[0][0], rows[0][1], rows[0][2]
    if jwt_settings.CHECK_USER_IS_ACTIVE and not is_active:
        return None
    if jwt_settings.CHECK_REVOKE_TOKEN and payload.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(password):
        return None
    # Counted after authentication, as DRF counts (a refused token is never counted against a user).
    if not await _within_throttle(state, UserRateThrottle, user_id):
        return None
    balances = wallet_balances_from(currency, {kind: balance for *_, kind, balance in rows if kind is not None})
    from rest_framework.renderers import JSONRenderer

    body = JSONRenderer().render({
        "currency": balances.currency,
        "cash": str(balances.cash),
        "bonus": str(balances.bonus),
        "held": str(balances.held),
        "withdrawable": str(balances.withdrawable),
    })
    return body, _response_headers(body, secure)


async def _within_throttle(state: _LoopState, throttle_class: type, user_id: int) -> bool:
    """Counts this request in the user throttle; False (Django answers, and counts) when over it or unsure."""
    from django.core.cache import cache

    from apps.core.throttling import over_rate

    rate = throttle_class.THROTTLE_RATES.get(throttle_class.scope)
    if rate is None:
        return True
    if state.script is None or not hasattr(cache, "window_keys"):
        return False  # no shared Redis counter here: let Django's throttle count
    throttle = throttle_class.__new__(throttle_class)
    num_requests, duration = throttle.parse_rate(rate)
    now = throttle.timer()
    window, into = divmod(now, duration)
    key = throttle.cache_format % {"scope": throttle.scope, "ident": user_id}
    current, previous = cache.window_keys(key, int(window))
    hits, before = await state.script(keys=[current, previous], args=[2 * duration])
    if over_rate(hits=int(hits), previous=int(before), into=into / duration, num_requests=num_requests):
        await state.redis.decr(current)  # Django's throttle counts and refuses it
        return False
    return True


class FastWalletMiddleware:
    """ASGI middleware: answers the simple GET /api/v1/wallet itself, hands everything else to `app`."""

    def __init__(self, app):
        self.app = app
        # PostgreSQL only: the embedded SQLite demo (make run) has no server to hold an async pool against.
        self.enabled = getattr(settings, "WALLET_FAST_PATH", True) and settings.DATABASES["default"]["ENGINE"].endswith("postgresql")

    async def __call__(self, scope, receive, send):
        if self.enabled and scope["type"] == "http" and _simple_request(scope):
            try:
                answer = await _answer(scope)
            except Exception:  # any failure here is Django's to answer (a 503 for a dead dependency)
                logger.debug("Wallet fast path fell back to Django.", exc_info=True)
                answer = None
            if answer is not None:
                body, headers = answer
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
