"""Payments under each market's rules (issue #11), through the API: verification before deposit (UKGC),
the due-diligence threshold in EUR over deposits, stakes and winnings, and no reverse withdrawals (UKGC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.core.money import Money
from apps.ledger import services as ledger_services
from apps.ledger.selectors import wallet_balances
from apps.markets.models import ExchangeRate, Market
from apps.markets.services import market_update
from apps.payments.models import Deposit, Withdrawal, WithdrawalStatus

from .helpers import client_for, new_key, post_money

pytestmark = pytest.mark.django_db

DEPOSITS = "/api/v1/wallet/deposits"
WITHDRAWALS = "/api/v1/wallet/withdrawals"


def deposit(client, amount: str):
    return post_money(client, DEPOSITS, {"amount": amount, "method": "sandbox"}, new_key("dep"))


def error_code(response) -> str:
    return response.json()["error"]["code"]


def set_rule(code: str, **changes) -> None:
    market_update(market=Market.objects.get(code=code), actor=None, reason="test", **changes)


# --- Verification before deposit (UKGC) ---


def test_an_unverified_gb_player_cannot_deposit(make_player):
    client = client_for(make_player(country="GB", currency="GBP"))
    response = deposit(client, "10.00")
    assert response.status_code == 403 and error_code(response) == "kyc_required"
    assert response.json()["error"]["details"] == {"market": "ukgc"}
    assert not Deposit.objects.exists()
    assert wallet_balances(player=client.player).cash == Money(Decimal("0.00"), "GBP")


def test_a_verified_gb_player_deposits(make_player, kyc_approved):
    client = client_for(make_player(country="GB", currency="GBP"))
    assert deposit(client, "10.00").status_code == 201
    assert wallet_balances(player=client.player).cash == Money(Decimal("10.00"), "GBP")


def test_an_unverified_player_elsewhere_deposits_below_the_threshold(make_player):
    for country in ("DE", "ES"):
        client = client_for(make_player(country=country))
        assert deposit(client, "10.00").status_code == 201


def test_the_rule_follows_the_market_not_the_country(make_player):
    """A DE-registered player an operator moved to ukgc is under UKGC rules; switching the rule off frees GB players."""
    from apps.players.services import player_change_market

    moved = player_change_market(player=make_player(country="DE"), market="ukgc", actor=None, reason="moved to the UK")
    assert error_code(deposit(client_for(moved), "10.00")) == "kyc_required"
    set_rule("ukgc", verification_before_play=False)
    assert deposit(client_for(moved), "10.00").status_code == 201


# --- Due diligence in EUR over deposits, stakes and winnings ---


def test_stakes_and_winnings_count_towards_the_due_diligence_threshold(make_player, fund):
    set_rule("intl", due_diligence_threshold_eur=Decimal("100.00"))
    player = make_player(country="DE")
    fund(player, "50.00")
    ledger_services.bet_post(player=player, amount=Money(Decimal("30.00"), "EUR"), idempotency_key="dd-bet", reference="r1")
    ledger_services.win_post(player=player, amount=Money(Decimal("10.00"), "EUR"), idempotency_key="dd-win", reference="r1")
    client = client_for(player)  # volume so far: 50 + 30 + 10 = 90 EUR
    refused = deposit(client, "10.01")
    assert refused.status_code == 403 and error_code(refused) == "kyc_required"
    assert refused.json()["error"]["details"] == {"threshold": "100.00", "currency": "EUR"}
    assert deposit(client, "10.00").status_code == 201  # exactly at the threshold


def test_the_threshold_is_counted_in_eur_at_the_exchange_rate(make_player):
    set_rule("intl", due_diligence_threshold_eur=Decimal("100.00"))
    client = client_for(make_player(country="MT", currency="GBP"))  # demo rate: 1 GBP = 1.17 EUR
    assert deposit(client, "85.47").status_code == 201  # 99.9999 EUR
    assert error_code(deposit(client, "0.01")) == "kyc_required"  # 85.48 GBP = 100.01 EUR

    ExchangeRate.objects.create(currency="GBP", rate_to_eur=Decimal("1.00"), valid_from=datetime(2021, 1, 1, tzinfo=UTC))
    assert deposit(client, "10.00").status_code == 201  # a newer rate: 95.47 EUR


def test_without_a_rate_the_threshold_is_assumed_crossed(make_player):
    ExchangeRate.objects.filter(currency="CAD").delete()
    client = client_for(make_player(country="DE", currency="CAD"))
    assert error_code(deposit(client, "1.00")) == "kyc_required"


def test_a_market_window_lets_old_movements_fall_out(make_player, time_machine):
    time_machine.move_to(datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False)
    set_rule("intl", due_diligence_threshold_eur=Decimal("100.00"), due_diligence_window_days=30)
    player = make_player(country="DE")
    assert deposit(client_for(player), "90.00").status_code == 201
    assert error_code(deposit(client_for(player), "20.00")) == "kyc_required"
    time_machine.shift(timedelta(days=30, seconds=1))
    assert deposit(client_for(player), "20.00").status_code == 201  # a fresh token: the old one expired


# --- No reverse withdrawals (UKGC) ---


def test_a_gb_withdrawal_cannot_be_cancelled(make_player, fund, kyc_approved):
    player = make_player(country="GB", currency="GBP")
    fund(player, "50.00")
    client = client_for(player)
    created = post_money(client, WITHDRAWALS, {"amount": "20.00"}, new_key("wd"))
    assert created.status_code == 201
    response = client.post(f"{WITHDRAWALS}/{created.json()['id']}/cancel")
    assert response.status_code == 403 and error_code(response) == "market_restricted"
    assert Withdrawal.objects.get(pk=created.json()["id"]).status == WithdrawalStatus.REQUESTED
    assert wallet_balances(player=player).held == Money(Decimal("20.00"), "GBP")


def test_elsewhere_a_withdrawal_is_still_cancelled(make_player, fund, kyc_approved):
    player = make_player(country="ES")
    fund(player, "50.00")
    client = client_for(player)
    created = post_money(client, WITHDRAWALS, {"amount": "20.00"}, new_key("wd"))
    response = client.post(f"{WITHDRAWALS}/{created.json()['id']}/cancel")
    assert response.status_code == 200
    assert wallet_balances(player=player).cash == Money(Decimal("50.00"), "EUR")
