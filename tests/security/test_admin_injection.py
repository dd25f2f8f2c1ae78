"""Injection strings in every text field that players, providers or staff type and the admin shows.

A player's name, a provider's round and transaction ids, a KYC document's file name and the reasons
staff type all reach admin pages that operators open every day: a stored XSS there would run with
the operator's session (OWASP A03:2021). Each field here gets a script payload and an SQL payload;
every admin page showing it must render the payload escaped, never raw, and the SQL payload must
come back as text (the ORM binds parameters; this proves no raw query splices it in).
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from rest_framework.test import APIClient

from apps.core.money import Money
from apps.games import crypto
from apps.games.models import GameKind
from apps.games.seed import default_stake_limits
from apps.games.services import game_register, provider_key_set
from apps.ledger.services import adjustment_post
from apps.payments.services import deposit_create, withdrawal_reject, withdrawal_request
from apps.players.models import Player
from apps.players.services import player_suspend

pytestmark = pytest.mark.django_db

XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
SQL = "Robert'); DROP TABLE players_player;--"
RAW_MARKERS = ("<script>alert", "<img src=x onerror")


@pytest.fixture
def kyc_approved(monkeypatch):
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


@pytest.fixture
def poisoned(kyc_approved, staff_user, private_media):
    """A player whose every free-text field, and every reason about them, carries a payload."""
    superuser = staff_user(superuser=True)
    registered = APIClient().post(
        "/api/v1/auth/register",
        {"email": "mallory@example.com", "password": "A-strong-passphrase-42", "first_name": XSS, "last_name": SQL,
         "date_of_birth": "1990-01-01", "country": "DE", "currency": "EUR"},
        format="json",
    )
    assert registered.status_code == 201, registered.content
    player = Player.objects.get(user__email="mallory@example.com")
    assert (player.user.first_name, player.user.last_name) == (XSS, SQL)  # stored as typed, escaped on output
    deposit_create(player=player, amount=Money(Decimal("50.00"), "EUR"), method="sandbox", idempotency_key=XSS[:60])
    withdrawal = withdrawal_request(player=player, amount=Money(Decimal("10.00"), "EUR"), idempotency_key=SQL)
    withdrawal_reject(withdrawal=withdrawal, actor=superuser, reason=f"{XSS} {SQL}")
    adjustment_post(player=player, amount_minor=100, actor=superuser, reason=f"goodwill {XSS}", idempotency_key="adj-xss")
    # A provider's ids are whatever its servers send.
    secret = "s" * 40
    provider, _ = provider_key_set(code="acme", secret=secret)
    game_register(slug="acme-slot", name="Acme slot", kind=GameKind.SLOTS, rtp=Decimal("96.00"), stake_limits=default_stake_limits(),
                  provider=provider, provider_game_code="acme_slot")
    body = {"player_id": str(player.public_id), "round_id": XSS[:60], "transaction_id": SQL, "amount": "1.00", "currency": "EUR"}
    raw = json.dumps(body).encode()
    signature = crypto.hmac_hex(secret, raw)
    bet = APIClient().post("/api/v1/providers/acme/bet", raw, content_type="application/json", HTTP_X_SIGNATURE=signature)
    assert bet.status_code == 200, bet.content
    player_suspend(player=player, actor=superuser, reason=f"checked {XSS}")
    return player, superuser


def _pages_about(player) -> list[str]:
    """Every admin changelist, plus the change and history page of each object of this player."""
    urls = []
    for model in admin.site._registry:
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        field_names = {f.name for f in opts.get_fields()}
        if model is Player:
            objects = [player]
        elif "player" in field_names:
            objects = list(model._default_manager.filter(player=player)[:5])
        else:
            objects = []
        for obj in objects:
            for view in ("change", "history"):
                with contextlib.suppress(NoReverseMatch):
                    urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk]))
    return urls


def test_every_admin_page_renders_the_payloads_escaped(client, poisoned):
    player, superuser = poisoned
    client.force_login(superuser)
    shown = 0
    for url in _pages_about(player):
        response = client.get(url)
        assert response.status_code in (200, 302), (url, response.status_code)
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        page = response.content.decode()
        for marker in RAW_MARKERS:
            assert marker not in page, f"raw {marker!r} in {url}"
        shown += "&lt;script&gt;alert(" in page
    # The payloads are on screen (escaped) on the player's pages, the money pages and the provider transaction pages.
    assert shown >= 5


def test_admin_search_and_filters_treat_injection_as_text(client, poisoned):
    player, superuser = poisoned
    client.force_login(superuser)
    changelist = reverse("admin:players_player_changelist")
    for query in (SQL, "' OR '1'='1", "%' OR 1=1 --", XSS):
        response = client.get(changelist, {"q": query})
        assert response.status_code == 200
        page = response.content.decode()
        for marker in RAW_MARKERS:
            assert marker not in page
    # The SQL payload finds exactly the player whose name it is, and the table is still there.
    found = client.get(changelist, {"q": "DROP TABLE"})
    assert "mallory@example.com" in found.content.decode()
    assert Player.objects.filter(pk=player.pk).exists()


def test_staff_api_answers_carry_payloads_as_json_strings_not_markup(poisoned, staff_user):
    """JSON is not HTML, but a wrong Content-Type would make browsers sniff and render it."""
    player, superuser = poisoned
    client = APIClient()
    client.force_login(superuser)
    from rest_framework_simplejwt.tokens import RefreshToken

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(player.user).access_token}")
    response = client.get("/api/v1/me")
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["first_name"] == XSS
