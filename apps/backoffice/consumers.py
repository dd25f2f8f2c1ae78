"""The WebSockets (README "WebSockets"): a player's wallet and the staff dashboard's live feed.

Both accept the connection first and then, if the client may not stay, send one error message and
close with an application close code (4000-4999), so a client learns why instead of seeing a bare
handshake failure:

| code | error code | when |
|---|---|---|
| 4400 | `validation_error` | the first message is not JSON `{"token": "..."}` |
| 4401 | `not_authenticated`, `token_invalid` | no staff session; a bad, expired or forged token (also at expiry) |
| 4401 | `two_factor_required` | a staff session that has not passed the second factor its user requires |
| 4403 | `permission_denied` | authenticated, but not a player (wallet) or without a staff role that has a live feed (staff) |
| 4408 | `not_authenticated` | no token arrived within WS_AUTH_TIMEOUT_SECONDS |
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from apps.core import clock
from apps.ledger import selectors as ledger_selectors

from . import realtime
from .second_factor import otp_user, second_factor_missing

logger = logging.getLogger(__name__)

CLOSE_BAD_MESSAGE = 4400
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408


class Refused(Exception):
    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code, self.code, self.message = close_code, code, message


class _ClosingConsumer(AsyncJsonWebsocketConsumer):
    async def refuse(self, refused: Refused) -> None:
        await self.send_json({"type": "error", "code": refused.code, "message": refused.message})
        await self.close(code=refused.close_code)


# --- The player's wallet -------------------------------------------------------------------------


def _player_for_token(raw_token: str) -> tuple[int, str, float]:
    """simplejwt's own checks (signature, expiry, token type, active user), then the player behind it.

    Returns (player id, wallet currency, the token's expiry as a POSIX time).
    """
    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(raw_token.encode())
        user = auth.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed) as exc:
        raise Refused(CLOSE_NOT_AUTHENTICATED, "token_invalid", "The access token is invalid or expired.") from exc
    player = getattr(user, "player", None) if user.is_active else None
    if player is None:
        raise Refused(CLOSE_FORBIDDEN, "permission_denied", "Only a player has a wallet.")
    return player.pk, player.currency, float(validated["exp"])


class WalletConsumer(_ClosingConsumer):
    """`/ws/wallet/`: the player's balances, pushed after every committed change of their wallet.

    Authenticated with the player's access JWT, as `?token=` or as the first message `{"token": "..."}`
    (a front end that keeps tokens out of URLs, and so out of proxy logs, uses the message). Once in, the
    socket joins the player's own group only (realtime.wallet_group): another player's balance never
    reaches it. It receives the current balance at once, then one message per committed posting. The
    socket is closed (4401) when the token expires, as an HTTP call with it would be refused.
    """

    player_id: int | None = None
    _timer: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        await self.accept()
        token = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        if token:
            await self.authenticate(token)
        else:
            self._timer = asyncio.get_running_loop().call_later(
                settings.WS_AUTH_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self._auth_timed_out())
            )

    async def _auth_timed_out(self) -> None:
        if self.player_id is None:
            await self.refuse(Refused(CLOSE_AUTH_TIMEOUT, "not_authenticated", "Send {\"token\": ...} first."))

    async def _token_expired(self) -> None:
        await self.refuse(Refused(CLOSE_NOT_AUTHENTICATED, "token_invalid", "The access token has expired; reconnect with a fresh one."))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def authenticate(self, token: str) -> None:
        self._cancel_timer()
        try:
            player_id, currency, expires_at = await database_sync_to_async(_player_for_token)(token)
        except Refused as refused:
            await self.refuse(refused)
            return
        self.player_id = player_id
        await self.channel_layer.group_add(realtime.wallet_group(player_id), self.channel_name)
        snapshot = await database_sync_to_async(ledger_selectors.wallet_snapshot)(player_id=player_id, currency=currency)
        await self.send_json(realtime.balance_message(snapshot))
        remaining = max(expires_at - clock.now().timestamp(), 0.0)
        self._timer = asyncio.get_running_loop().call_later(remaining, lambda: asyncio.ensure_future(self._token_expired()))

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if self.player_id is not None:
            return  # nothing to say once authenticated; the socket only listens
        try:
            content = json.loads(text_data or "")
            token = content["token"] if isinstance(content, dict) else None
        except (ValueError, KeyError):
            token = None
        if not isinstance(token, str) or not token:
            self._cancel_timer()
            await self.refuse(Refused(CLOSE_BAD_MESSAGE, "validation_error", "The first message must be {\"token\": \"<access JWT>\"}."))
            return
        await self.authenticate(token)

    async def wallet_balance(self, event: dict) -> None:
        await self.send_json(event["balance"])

    async def disconnect(self, code) -> None:
        self._cancel_timer()
        if self.player_id is not None:
            await self.channel_layer.group_discard(realtime.wallet_group(self.player_id), self.channel_name)


# --- The staff dashboard -------------------------------------------------------------------------


def _staff_feeds(user, session) -> list[str]:
    """The feeds this staff user's roles allow (realtime.STAFF_FEEDS), checked like the admin pages.

    The second factor too, by the admin's own rule (second_factor): the feed shows AML alerts, withdrawals and
    large transactions, which a session that has only given a password may not see on the admin's pages either.
    """
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        raise Refused(CLOSE_NOT_AUTHENTICATED, "not_authenticated", "Log in to the back-office first.")
    if second_factor_missing(otp_user(user, session)):
        raise Refused(
            CLOSE_NOT_AUTHENTICATED, "two_factor_required", "Enter your two-factor code in the back-office first, then reload."
        )
    feeds = [kind for kind, (_group, permission) in realtime.STAFF_FEEDS.items() if user.has_perm(permission)]
    if not feeds:
        raise Refused(CLOSE_FORBIDDEN, "permission_denied", "Your role has no live feed.")
    return feeds


class StaffConsumer(_ClosingConsumer):
    """`/ws/staff/`: new AML alerts (compliance), withdrawals awaiting approval (operator) and large
    transactions (ledger readers), for the dashboard. Authenticated by the admin's session cookie, which must
    have passed the second factor where its user requires one (as on the admin's pages); the origin must be
    one of ALLOWED_HOSTS (config/asgi.py), so another site cannot ride that cookie.

    The first message is `{"type": "hello", "feeds": [...]}`: the feeds this user receives.
    """

    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        await self.accept()
        try:
            feeds = await database_sync_to_async(_staff_feeds)(self.scope.get("user"), self.scope.get("session"))
        except Refused as refused:
            await self.refuse(refused)
            return
        for kind in feeds:
            group = realtime.STAFF_FEEDS[kind][0]
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.send_json({"type": "hello", "feeds": feeds})

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        return  # the feed only talks

    async def staff_event(self, event: dict) -> None:
        await self.send_json(event["event"])

    async def disconnect(self, code) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)


class NotFoundConsumer(_ClosingConsumer):
    async def connect(self) -> None:
        await self.accept()
        await self.refuse(Refused(4404, "not_found", "No WebSocket at this path."))
