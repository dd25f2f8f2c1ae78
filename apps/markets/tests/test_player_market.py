"""A player's market: decided at registration from the country, shown on /me, moved only by an operator with a reason."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from apps.core.errors import ValidationFailed
from apps.markets.models import Market
from apps.markets.services import market_update
from apps.players.models import Player
from apps.players.services import player_change_market
from conftest import client_for

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"


def body(**overrides) -> dict:
    data = {
        "email": "someone@example.com", "password": "A-strong-passphrase-42", "first_name": "Ada",
        "last_name": "Lovelace", "date_of_birth": "1990-05-17", "country": "DE", "currency": "EUR",
    }
    return {**data, **overrides}


@pytest.mark.parametrize(("country", "currency", "market"), [("GB", "GBP", "ukgc"), ("ES", "EUR", "dgoj"), ("IE", "EUR", "intl")])
def test_registration_assigns_the_market_of_the_country_and_me_shows_it(api_client, country, currency, market):
    response = api_client.post(REGISTER, body(country=country, currency=currency), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["market"] == market
    player = Player.objects.get(public_id=response.json()["id"])
    assert player.market == market
    assert client_for(player).get("/api/v1/me").json()["market"] == market


def test_a_country_on_no_licence_is_refused(api_client):
    response = api_client.post(REGISTER, body(country="US", currency="USD"), format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "country_blocked")
    assert not Player.objects.exists()


def test_a_country_added_to_a_licence_is_accepted_at_once(api_client):
    market_update(market=Market.objects.get(code="intl"), actor=None, reason="new licence covers the US", countries=["US"])
    response = api_client.post(REGISTER, body(country="US", currency="USD"), format="json")
    assert (response.status_code, response.json()["market"]) == (201, "intl")


def test_operator_moves_a_player_between_markets_with_a_reason(make_player, staff_user):
    operator = staff_user("operator")
    player = make_player(country="DE")
    assert player.market == "intl"
    with pytest.raises(ValidationFailed):
        player_change_market(player=player, market="ukgc", actor=operator, reason="")
    with pytest.raises(ValidationFailed):
        player_change_market(player=player, market="nowhere", actor=operator, reason="moved")
    moved = player_change_market(player=player, market="ukgc", actor=operator, reason="moved to London, proof of address")
    assert moved.market == "ukgc"
    assert moved.country == "DE"  # the country of registration stays on record; the market decides the rules
    latest = moved.history.latest()
    assert (latest.market, latest.history_user, latest.history_change_reason) == ("ukgc", operator, "moved to London, proof of address")


def test_player_admin_moves_the_market_only_with_the_permission(client, make_player, staff_user):
    player = make_player(country="DE")
    url = f"/admin/players/player/{player.pk}/change/"
    operator = staff_user("operator")
    assert operator.has_perm("players.change_player_market")
    client.force_login(operator)
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({"market": "ukgc", "change_reason": "moved to the UK", "is_test_player": ""})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    player.refresh_from_db()
    assert player.market == "ukgc"

    compliance = staff_user("compliance")
    assert not compliance.has_perm("players.change_player_market")
    assert Permission.objects.filter(codename="change_player_market").exists()


def test_compliance_edits_a_market_in_the_admin_with_a_reason_and_a_short_cooling_off_is_refused(client, staff_user):
    market = Market.objects.get(code="ukgc")
    url = f"/admin/markets/market/{market.pk}/change/"
    client.force_login(staff_user("compliance"))
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    flags = (
        "is_default", "verification_before_play", "limit_raise_needs_confirmation", "withdrawal_reversal_allowed", "slot_autoplay_allowed",
    )
    for flag in flags:
        if not data.get(flag):
            data.pop(flag, None)

    refused = client.post(url, {**data, "limit_cooling_off_hours": "12", "change_reason": "faster"})
    assert refused.status_code == 200
    assert "limit_cooling_off_hours" in refused.context["adminform"].form.errors
    no_reason = client.post(url, {**data, "limit_cooling_off_hours": "48", "change_reason": ""})
    assert no_reason.status_code == 200

    saved = client.post(url, {**data, "limit_cooling_off_hours": "48", "change_reason": "UKGC consultation"})
    assert saved.status_code == 302
    market.refresh_from_db()
    assert market.limit_cooling_off_hours == 48
    assert market.history.latest().history_change_reason == "UKGC consultation"


def test_operators_read_markets_but_cannot_change_them(client, staff_user):
    market = Market.objects.get(code="ukgc")
    client.force_login(staff_user("operator"))
    assert client.get("/admin/markets/market/").status_code == 200
    response = client.post(f"/admin/markets/market/{market.pk}/change/", {"limit_cooling_off_hours": "48", "change_reason": "x"})
    assert response.status_code == 403
