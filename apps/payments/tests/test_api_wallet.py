import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.ledger import services as ledger_services

from .helpers import client_for, eur, new_key, post_money

pytestmark = pytest.mark.django_db


def test_empty_wallet_shows_zero_balances_in_the_wallet_currency(player_client):
    response = player_client.get("/api/v1/wallet")
    assert response.status_code == 200
    assert response.json() == {"currency": "EUR", "cash": "0.00", "bonus": "0.00", "held": "0.00", "withdrawable": "0.00"}


def test_wallet_after_deposit_and_withdrawal_request(player_client, fund, kyc_approved):
    fund(player_client.player, "50.00")
    assert post_money(player_client, "/api/v1/wallet/withdrawals", {"amount": "20.00"}, new_key()).status_code == 201
    body = player_client.get("/api/v1/wallet").json()
    assert body == {"currency": "EUR", "cash": "30.00", "bonus": "0.00", "held": "20.00", "withdrawable": "30.00"}


def test_jpy_wallet_has_no_decimals(make_player):
    client = client_for(make_player(currency="JPY"))
    assert client.get("/api/v1/wallet").json()["cash"] == "0"


def test_wallet_requires_authentication():
    response = APIClient().get("/api/v1/wallet")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_staff_without_player_profile_has_no_wallet(staff_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(staff_user(superuser=True)).access_token}")
    response = client.get("/api/v1/wallet")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_transactions_newest_first_with_signed_amounts(player_client, fund):
    player = player_client.player
    fund(player, "30.00")
    ledger_services.bet_post(player=player, amount=eur("5.00"), idempotency_key=new_key(), reference="round:1")
    ledger_services.win_post(player=player, amount=eur("12.50"), idempotency_key=new_key(), reference="round:1")

    response = player_client.get("/api/v1/wallet/transactions")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    rows = body["results"]
    assert [(r["kind"], r["amount"], r["balance_after"]) for r in rows] == [
        ("win", "12.50", "37.50"),
        ("bet", "-5.00", "25.00"),
        ("deposit", "30.00", "30.00"),
    ]
    assert set(rows[0]) == {"id", "kind", "amount", "balance_after", "reference", "created_at"}
    assert rows[0]["reference"] == "round:1"
    assert rows[0]["id"] > rows[1]["id"] > rows[2]["id"]


def test_transactions_kind_filter(player_client, fund):
    player = player_client.player
    fund(player, "30.00")
    ledger_services.bet_post(player=player, amount=eur("5.00"), idempotency_key=new_key(), reference="round:1")
    rows = player_client.get("/api/v1/wallet/transactions?kind=bet").json()["results"]
    assert [r["kind"] for r in rows] == ["bet"]


def test_transactions_unknown_kind_is_a_validation_error(player_client):
    response = player_client.get("/api/v1/wallet/transactions?kind=jackpot")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "kind" in response.json()["error"]["details"]


def test_transactions_paginate_with_a_cursor(player_client, fund):
    for _ in range(5):
        fund(player_client.player, "1.00")
    first = player_client.get("/api/v1/wallet/transactions?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"] and first["previous"] is None
    second = player_client.get(first["next"]).json()
    third = player_client.get(second["next"]).json()
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert len(seen) == 5 == len(set(seen))
    assert third["next"] is None


def test_transactions_show_only_the_players_own_cash(player_client, make_player, fund):
    other = make_player()
    fund(other, "99.00")
    fund(player_client.player, "1.00")
    rows = player_client.get("/api/v1/wallet/transactions").json()["results"]
    assert [r["amount"] for r in rows] == ["1.00"]
