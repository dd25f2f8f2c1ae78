"""The generic signed provider protocol of API.md, over the same wallet engine."""

from __future__ import annotations

import json

import pytest

from apps.games.models import ProviderTransaction
from apps.ledger.selectors import wallet_balances
from apps.limits import services as limits_services

from .conftest import eur

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(generic_provider, player, fund):
    fund(player, "100.00")
    generic_provider.player = player
    return generic_provider


def _money(acme, tx, amount="10.00", round_id="r1", **extra):
    return {"player_id": str(acme.player.public_id), "round_id": round_id, "transaction_id": tx, "amount": amount, "currency": "EUR",
            **extra}


def test_balance_bet_win_rollback(acme):
    assert acme.call("balance", {"player_id": str(acme.player.public_id), "currency": "EUR"}).json() == {"balance": "100.00"}
    bet = acme.call("bet", _money(acme, "b1", game_code="acme_slot"))
    assert bet.status_code == 200 and bet.json() == {"balance": "90.00", "transaction_id": "b1"}
    assert acme.call("bet", _money(acme, "b2", "5.00")).json() == {"balance": "85.00", "transaction_id": "b2"}
    win = acme.call("win", _money(acme, "w1", "25.00"))
    assert win.json() == {"balance": "110.00", "transaction_id": "w1"}
    rollback = acme.call("rollback", {"player_id": str(acme.player.public_id), "round_id": "r1", "transaction_id": "rb1",
                                      "rolled_back_transaction_id": "b2"})
    assert rollback.json() == {"balance": "115.00"}
    assert ProviderTransaction.objects.get(transaction_id="w1").game == acme.game  # taken from the round's bet
    replay = acme.call("win", _money(acme, "w1", "25.00"))
    assert replay.status_code == 200 and replay.json() == {"balance": "115.00", "transaction_id": "w1"}
    assert acme.call("win", _money(acme, "w1", "26.00")).status_code == 409
    assert wallet_balances(player=acme.player).cash == eur("115.00")


def test_a_bad_or_missing_signature_is_401_and_does_nothing(acme):
    body = _money(acme, "b1")
    raw = json.dumps(body).encode()
    from apps.games import crypto

    good = crypto.hmac_hex(acme.secret, raw)
    tampered = acme.client.post(f"/api/v1/providers/{acme.provider.code}/bet", raw.replace(b"10.00", b"90.00"),
                                content_type="application/json", HTTP_X_SIGNATURE=good)
    assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "invalid_credentials"
    missing = acme.call("bet", body, signature="")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "not_authenticated"
    assert acme.call("bet", body, signature=crypto.hmac_hex("another-secret-of-enough-length-000000", raw)).status_code == 401
    assert wallet_balances(player=acme.player).cash == eur("100.00") and not ProviderTransaction.objects.exists()


def test_a_caleta_provider_cannot_use_the_generic_path(acme, caleta_provider):
    response = acme.client.post("/api/v1/providers/caleta/bet", b"{}", content_type="application/json", HTTP_X_SIGNATURE="00")
    assert response.status_code == 401


def test_replays_and_duplicates(acme):
    assert acme.call("bet", _money(acme, "b1")).json()["balance"] == "90.00"
    assert acme.call("bet", _money(acme, "b1")).json()["balance"] == "90.00"
    duplicate = acme.call("bet", _money(acme, "b1", "11.00"))
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "idempotency_conflict"
    assert wallet_balances(player=acme.player).cash == eur("90.00")


def test_rollback_of_an_unknown_bet_is_recorded_and_the_late_bet_refused(acme):
    early = acme.call("rollback", {"player_id": str(acme.player.public_id), "round_id": "r1", "transaction_id": "rb1",
                                   "rolled_back_transaction_id": "b-late"})
    assert early.status_code == 200 and early.json() == {"balance": "100.00"}
    late = acme.call("bet", _money(acme, "b-late"))
    assert late.status_code == 409 and late.json()["error"]["code"] == "invalid_state"
    unknown_round_win = acme.call("win", _money(acme, "w1", round_id="r-none"))
    assert unknown_round_win.status_code == 404
    assert wallet_balances(player=acme.player).cash == eur("100.00")


def test_a_self_excluded_player_gets_403_on_bets_but_wins_settle(acme):
    acme.call("bet", _money(acme, "b1"))
    limits_services.self_exclusion_start(player=acme.player, months=12)
    refused = acme.call("bet", _money(acme, "b2"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "self_excluded"
    assert acme.call("win", _money(acme, "w1", "4.00")).status_code == 200
    assert wallet_balances(player=acme.player).cash == eur("94.00")


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [("10.001", 400, "validation_error"), ("-1.00", 400, "validation_error"), (10, 400, "validation_error"),
     ("1e3", 400, "validation_error"), ("0.00", 400, "validation_error"), ("200.00", 422, "insufficient_funds")],
)
def test_bad_amounts_are_refused_never_rounded(acme, amount, status, code):
    response = acme.call("bet", _money(acme, "b1", amount))
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert wallet_balances(player=acme.player).cash == eur("100.00")


def test_wrong_currency_unknown_player_and_unknown_game(acme):
    assert acme.call("bet", {**_money(acme, "b1"), "currency": "USD"}).status_code == 400
    assert acme.call("bet", {**_money(acme, "b1"), "player_id": "00000000-0000-0000-0000-000000000000"}).status_code == 404
    assert acme.call("bet", _money(acme, "b1", game_code="nope")).status_code == 404
    assert wallet_balances(player=acme.player).cash == eur("100.00")


def test_provider_calls_are_not_throttled_per_ip(acme, settings):
    """Everything a provider sends comes from its few addresses; the anonymous per-IP rate must not cut it off."""
    from django.core.cache import cache

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    cache.clear()
    statuses = {acme.call("balance", {"player_id": str(acme.player.public_id), "currency": "EUR"}).status_code for _ in range(5)}
    assert statuses == {200}
