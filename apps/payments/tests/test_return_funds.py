"""Returning an excluded player's funds (issue #11): an operator's withdrawal of the net deposits, at most the cash,
to the method of the latest deposit, without KYC, with a reason in the history; then approved and paid as usual."""

from __future__ import annotations

import pytest

from apps.core.errors import InvalidState, PermissionDenied, ValidationFailed
from apps.ledger.selectors import wallet_balances
from apps.limits.services import self_exclusion_start
from apps.payments import services
from apps.payments.models import WithdrawalStatus
from tests.factories import DepositFactory

from .helpers import eur

pytestmark = pytest.mark.django_db


@pytest.fixture
def excluded(player, fund):
    DepositFactory(player=player, amount="100.00")
    DepositFactory(player=player, amount="50.00")
    fund(player, "30.00")  # winnings, say: not a deposit
    self_exclusion_start(player=player, months=6)
    return player


def test_the_net_deposits_go_back_without_kyc(excluded, operator):
    withdrawal = services.withdrawal_return_funds(player=excluded, actor=operator, reason="Self-excluded: returning the balance")
    assert (withdrawal.amount, withdrawal.status, withdrawal.payout_method) == (eur("150.00"), WithdrawalStatus.REQUESTED, "sandbox")
    assert wallet_balances(player=excluded).held == eur("150.00") and wallet_balances(player=excluded).cash == eur("30.00")
    assert withdrawal.history.earliest().history_user == operator
    reason = withdrawal.history.earliest().history_change_reason
    assert reason == "Funds returned to an excluded player: Self-excluded: returning the balance"
    services.withdrawal_approve(withdrawal=withdrawal, actor=operator)
    with pytest.raises(InvalidState, match="Nothing to return"):  # nothing left: the net deposits are on their way
        services.withdrawal_return_funds(player=excluded, actor=operator, reason="again")


def test_at_most_the_cash(excluded, operator):
    from apps.ledger.services import bet_post

    bet_post(player=excluded, amount=eur("170.00"), idempotency_key="lost", reference="round:x")  # lost before the exclusion
    assert services.withdrawal_return_funds(player=excluded, actor=operator, reason="balance").amount == eur("10.00")


def test_only_by_reviewers_and_with_a_reason(excluded, operator, support):
    with pytest.raises(PermissionDenied):
        services.withdrawal_return_funds(player=excluded, actor=support, reason="x")
    with pytest.raises(ValidationFailed):
        services.withdrawal_return_funds(player=excluded, actor=operator, reason=" ")


def test_an_active_player_is_refused(make_player, operator):
    active = make_player()
    DepositFactory(player=active, amount="10.00")
    with pytest.raises(InvalidState):
        services.withdrawal_return_funds(player=active, actor=operator, reason="x")


def test_the_admin_page_returns_the_funds(client, excluded, operator):
    client.force_login(operator)
    url = f"/admin/payments/withdrawal/return-funds/{excluded.pk}/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": "Returning on self-exclusion"})
    assert response.status_code == 302
    assert wallet_balances(player=excluded).held == eur("150.00")
