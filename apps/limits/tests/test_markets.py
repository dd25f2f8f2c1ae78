"""Limits under each market's rules (issue #11), through the API with a controlled clock: the market's
cooling-off, raises that need the player's confirmation (UKGC RTS 12) and lapse, and the mandatory
deposit limits a DGOJ player has from registration."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.core.money import Money
from apps.limits.models import Limit
from apps.limits.services import limit_activate_due
from apps.markets.models import Market
from apps.markets.services import market_update

from .helpers import START, deposit

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
OVERVIEW = "/api/v1/responsible-gaming"
LIMIT = "/api/v1/responsible-gaming/limits/deposit/day"


def client_of(player) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=player.user)  # no JWT: moving the clock by days cannot expire it
    return client


def the_limit(client, kind="deposit", period="day") -> dict:
    limits = client.get(OVERVIEW).json()["limits"]
    return next(item for item in limits if (item["kind"], item["period"]) == (kind, period))


@pytest.fixture
def gb_client(make_player, clock_at):
    player = make_player(country="GB", currency="GBP")
    client = client_of(player)
    assert client.put(LIMIT, {"amount": "100.00"}, format="json").status_code == 200
    return client


# --- Raises that need the player's confirmation (UKGC) ---


def test_a_gb_raise_waits_for_the_players_confirmation_after_the_cooling_off(gb_client, clock_at):
    raised = gb_client.put(LIMIT, {"amount": "500.00"}, format="json")
    assert raised.status_code == 200
    shown = the_limit(gb_client)
    assert (shown["amount"], shown["pending_amount"], shown["confirmation_required"]) == ("100.00", "500.00", True)
    assert shown["pending_from"] == (START + timedelta(hours=24)).isoformat().replace("+00:00", "Z")

    early = gb_client.post(f"{LIMIT}/confirm")
    assert early.status_code == 409 and early.json()["error"]["code"] == "invalid_state"

    clock_at.shift(timedelta(hours=25))
    assert the_limit(gb_client)["amount"] == "100.00"  # not in force without the confirmation
    assert limit_activate_due() == 0
    confirmed = gb_client.post(f"{LIMIT}/confirm")
    assert confirmed.status_code == 200
    shown = the_limit(gb_client)
    assert (shown["amount"], shown["pending_amount"], shown["confirmation_required"]) == ("500.00", None, False)
    again = gb_client.post(f"{LIMIT}/confirm")
    assert again.status_code == 409  # nothing pending any more


def test_until_confirmed_the_old_limit_binds(make_player, clock_at):
    player = make_player(country="GB", currency="GBP")
    client = client_of(player)
    client.put(LIMIT, {"amount": "10.00"}, format="json")
    client.put(LIMIT, {"amount": "50.00"}, format="json")
    clock_at.shift(timedelta(hours=25))
    from apps.core.errors import LimitExceeded
    from apps.markets.selectors import policy_for

    assert policy_for(player).verification_before_play  # the check below is about limits, the deposit helper skips KYC
    with pytest.raises(LimitExceeded):
        deposit(player, "20.00")


def test_an_unconfirmed_raise_lapses_after_the_markets_days(gb_client, clock_at):
    gb_client.put(LIMIT, {"amount": "500.00"}, format="json")
    clock_at.shift(timedelta(hours=24) + timedelta(days=7) + timedelta(seconds=1))
    shown = the_limit(gb_client)
    assert (shown["amount"], shown["pending_amount"], shown["confirmation_required"]) == ("100.00", None, False)
    assert limit_activate_due() == 1  # the periodic task stores the lapse
    limit = Limit.objects.get()
    assert (limit.pending_amount_minor, limit.confirmation_required) == (None, False)
    assert limit.history.latest().history_change_reason.startswith("Unconfirmed raise or removal lapsed")
    assert gb_client.post(f"{LIMIT}/confirm").status_code == 409


def test_a_gb_removal_needs_confirmation_too(gb_client, clock_at):
    assert gb_client.delete(LIMIT).status_code == 200
    clock_at.shift(timedelta(hours=24))
    assert the_limit(gb_client)["confirmation_required"] is True
    assert gb_client.post(f"{LIMIT}/confirm").status_code == 200
    assert gb_client.get(OVERVIEW).json()["limits"] == []


def test_elsewhere_a_raise_applies_after_the_cooling_off_without_confirmation(make_player, clock_at):
    client = client_of(make_player(country="DE"))
    client.put(LIMIT, {"amount": "100.00"}, format="json")
    client.put(LIMIT, {"amount": "500.00"}, format="json")
    assert the_limit(client)["confirmation_required"] is False
    clock_at.shift(timedelta(hours=24))
    assert the_limit(client)["amount"] == "500.00"
    assert client.post(f"{LIMIT}/confirm").status_code == 409  # nothing to confirm in this market


def test_the_markets_cooling_off_is_used(make_player, clock_at):
    market_update(market=Market.objects.get(code="intl"), actor=None, reason="test", limit_cooling_off_hours=72)
    client = client_of(make_player(country="DE"))
    client.put(LIMIT, {"amount": "100.00"}, format="json")
    client.put(LIMIT, {"amount": "500.00"}, format="json")
    clock_at.shift(timedelta(hours=71))
    assert the_limit(client)["amount"] == "100.00"
    clock_at.shift(timedelta(hours=1))
    assert the_limit(client)["amount"] == "500.00"


# --- Mandatory deposit limits at registration (DGOJ) ---


def registration(**overrides) -> dict:
    body = {
        "email": "nuevo@example.com", "password": "A-strong-passphrase-42", "first_name": "Lucía", "last_name": "Ruiz",
        "date_of_birth": "1990-05-17", "country": "ES", "currency": "EUR",
    }
    return {**body, **overrides}


def limits_of(player_id) -> dict[str, str]:
    return {
        limit.period: str(Money.from_minor(limit.amount_minor, limit.currency))
        for limit in Limit.objects.filter(player__public_id=player_id, kind="deposit")
    }


def test_an_es_player_registered_with_no_limits_has_the_three_default_deposit_limits(api_client):
    response = api_client.post(REGISTER, registration(), format="json")
    assert response.status_code == 201, response.content
    assert limits_of(response.json()["id"]) == {"day": "600.00", "week": "1500.00", "month": "3000.00"}


def test_an_es_player_may_choose_lower_but_not_higher_limits_at_registration(api_client):
    body = registration(deposit_limits={"day": "50.00", "month": "9000.00"})
    response = api_client.post(REGISTER, body, format="json")
    assert response.status_code == 201, response.content
    assert limits_of(response.json()["id"]) == {"day": "50.00", "week": "1500.00", "month": "3000.00"}


def test_a_non_eur_wallet_gets_the_limits_converted_down(api_client):
    response = api_client.post(REGISTER, registration(currency="GBP"), format="json")  # demo rate 1 GBP = 1.17 EUR
    assert limits_of(response.json()["id"]) == {"day": "512.82", "week": "1282.05", "month": "2564.10"}


def test_elsewhere_only_the_chosen_limits_exist(api_client):
    nothing = api_client.post(REGISTER, registration(email="a@example.com", country="DE"), format="json")
    assert limits_of(nothing.json()["id"]) == {}
    chosen = api_client.post(REGISTER, registration(email="b@example.com", country="DE", deposit_limits={"week": "200.00"}), format="json")
    assert limits_of(chosen.json()["id"]) == {"week": "200.00"}


@pytest.mark.parametrize("limits", [{"day": 50}, {"day": "-1.00"}, {"day": "0.00"}, {"day": "1.001"}, {"year": "5.00"}, "50.00"])
def test_bad_registration_limits_are_400_and_register_nobody(api_client, limits):
    response = api_client.post(REGISTER, registration(deposit_limits=limits), format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert not Limit.objects.exists()
    from apps.players.models import Player

    assert not Player.objects.exists()


def test_registration_limits_bind_the_first_deposit(api_client):
    response = api_client.post(REGISTER, registration(deposit_limits={"day": "20.00"}), format="json")
    from apps.players.models import Player

    player = Player.objects.get(public_id=response.json()["id"])
    deposit(player, "20.00")
    from apps.core.errors import LimitExceeded

    with pytest.raises(LimitExceeded):
        deposit(player, "0.01")
    assert Decimal("20.00") == Money.from_minor(Limit.objects.get(player=player, period="day").amount_minor, "EUR").amount


# --- The market's identity gate, for deposits (payments calls it) and stakes (games is to call it) ---


def test_market_money_check_per_market(make_player, fund, monkeypatch):
    from django.db import transaction

    from apps.core.errors import KycRequired
    from apps.kyc import selectors as kyc_selectors
    from apps.limits.services import market_money_check

    gb = make_player(country="GB", currency="GBP")
    de = make_player(country="DE")
    market_update(market=Market.objects.get(code="intl"), actor=None, reason="test", due_diligence_threshold_eur=Decimal("100.00"))
    fund(de, "90.00")
    with transaction.atomic():
        with pytest.raises(KycRequired) as unverified:
            market_money_check(player=gb, amount=Money(Decimal("0.10"), "GBP"))
        assert unverified.value.details == {"market": "ukgc"}
        market_money_check(player=de, amount=Money(Decimal("10.00"), "EUR"))  # 100.00 EUR: at the threshold
        with pytest.raises(KycRequired):
            market_money_check(player=de, amount=Money(Decimal("10.01"), "EUR"))
        with pytest.raises(KycRequired):  # money awaiting the PSP counts too
            market_money_check(player=de, amount=Money(Decimal("5.00"), "EUR"), pending=lambda: Money(Decimal("5.01"), "EUR"))
        monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)
        market_money_check(player=gb, amount=Money(Decimal("5.00"), "GBP"))
        market_money_check(player=de, amount=Money(Decimal("5000.00"), "EUR"))
