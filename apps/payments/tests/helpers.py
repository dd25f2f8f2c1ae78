"""Request helpers shared by the payments tests."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from decimal import Decimal

from apps.core.money import Money

_keys = itertools.count(1)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def new_key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


def post_money(client, path: str, body: dict, key: str | None = None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(path, body, format="json", **headers)


def sign(raw: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def post_webhook(client, payload, *, secret: str | None = None, signature: str | None = None, raw: bytes | None = None):
    """POST a PSP notification signed over the exact bytes sent (or with the given signature)."""
    from django.conf import settings

    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {}
    if signature is None:
        signature = sign(body, secret if secret is not None else settings.PSP_WEBHOOK_SECRET)
    if signature != "":
        headers["HTTP_X_SIGNATURE"] = signature
    return client.post("/api/v1/payments/webhooks/psp", data=body, content_type="application/json", **headers)


def client_for(player):
    """A JWT-authenticated API client for this player (what the root conftest's helper does)."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(player.user).access_token}")
    client.player = player
    return client
