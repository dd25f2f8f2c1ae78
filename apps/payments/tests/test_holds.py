"""Withdrawals respect holds that higher apps register in apps.core.holds (AML reviews): 403 account_under_review."""

import pytest

from apps.core import holds
from apps.core.errors import AccountUnderReview
from apps.ledger.selectors import wallet_balances
from apps.payments import services
from apps.payments.models import Withdrawal, WithdrawalStatus

from .helpers import eur, new_key, post_money

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(monkeypatch):
    """A stand-in provider: the players in the set are held."""
    monkeypatch.setattr(holds, "_providers", {})
    players: set[int] = set()
    holds.register_hold_provider("test", lambda player: "under review" if player.pk in players else None)
    return players


def test_a_held_player_cannot_request_and_nothing_moves(player_client, fund, kyc_approved, held):
    fund(player_client.player, "50.00")
    held.add(player_client.player.pk)
    response = post_money(player_client, "/api/v1/wallet/withdrawals", {"amount": "10.00"}, new_key())
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "account_under_review", "message": AccountUnderReview.default_message, "details": {}}
    assert not Withdrawal.objects.exists()
    assert str(wallet_balances(player=player_client.player).cash) == "50.00"


def test_a_pending_withdrawal_cannot_be_approved_while_held_but_can_be_rejected(player, fund, kyc_approved, held, operator):
    fund(player, "50.00")
    pending = services.withdrawal_request(player=player, amount=eur("10.00"), idempotency_key=new_key())
    held.add(player.pk)
    with pytest.raises(AccountUnderReview):
        services.withdrawal_approve(withdrawal=pending, actor=operator)
    assert Withdrawal.objects.get(pk=pending.pk).status == WithdrawalStatus.REQUESTED
    # Rejecting returns the money to cash: never blocked by a hold.
    assert services.withdrawal_reject(withdrawal=pending, actor=operator, reason="AML review").status == WithdrawalStatus.REJECTED


def test_the_hold_lifted_lets_the_approval_through(player, fund, kyc_approved, held, operator):
    fund(player, "50.00")
    pending = services.withdrawal_request(player=player, amount=eur("10.00"), idempotency_key=new_key())
    held.add(player.pk)
    with pytest.raises(AccountUnderReview):
        services.withdrawal_approve(withdrawal=pending, actor=operator)
    held.discard(player.pk)
    assert services.withdrawal_approve(withdrawal=pending, actor=operator).status == WithdrawalStatus.APPROVED
