"""Real threads against PostgreSQL: retries and double clicks must never move money twice."""

from __future__ import annotations

import pytest

from apps.core.testing import run_together
from apps.ledger.checks import verify_ledger
from apps.ledger.models import LedgerTransaction, TransactionKind
from apps.ledger.selectors import wallet_balances
from apps.payments import services
from apps.payments.models import Deposit, Withdrawal, WithdrawalStatus

from .helpers import client_for, eur

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10




def test_concurrent_replays_of_one_deposit_move_money_once(player):
    clients = [client_for(player) for _ in range(THREADS)]  # tokens minted here, not in the threads

    def post(i: int):
        response = clients[i].post(
            "/api/v1/wallet/deposits", {"amount": "10.00", "method": "sandbox"}, format="json", HTTP_IDEMPOTENCY_KEY="one-key"
        )
        return response.status_code, response.json()

    results = run_together(THREADS, post)
    assert all(not isinstance(r, Exception) for r in results), results
    assert {status for status, _ in results} == {201}
    assert all(body == results[0][1] for _, body in results)
    assert Deposit.objects.filter(player=player).count() == 1
    assert LedgerTransaction.objects.filter(kind=TransactionKind.DEPOSIT).count() == 1
    assert wallet_balances(player=player).cash == eur("10.00")
    assert verify_ledger().ok


def test_concurrent_service_calls_with_one_key_create_one_deposit(player):
    """Below the API's idempotency layer, the (player, key) constraint still decides."""

    def create(i: int):
        return services.deposit_create(player=player, amount=eur("10.00"), method="sandbox", idempotency_key="svc-key").pk

    results = run_together(THREADS, create)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert Deposit.objects.count() == 1
    assert wallet_balances(player=player).cash == eur("10.00")


def test_concurrent_withdrawals_never_hold_more_than_the_cash(player, fund, kyc_approved):
    fund(player, "50.00")

    def request(i: int):
        return services.withdrawal_request(player=player, amount=eur("20.00"), idempotency_key=f"w-{i}")

    results = run_together(THREADS, request)
    made = [r for r in results if isinstance(r, Withdrawal)]
    refused = [r for r in results if not isinstance(r, Withdrawal)]
    assert len(made) == 2
    assert all(type(r).__name__ == "InsufficientFunds" for r in refused), refused
    balances = wallet_balances(player=player)
    assert (balances.cash, balances.held) == (eur("10.00"), eur("40.00"))
    assert Withdrawal.objects.count() == 2
    assert verify_ledger().ok


def test_two_operators_cannot_pay_one_withdrawal_twice(player, fund, kyc_approved, staff_user):
    from django.contrib.auth.models import Permission

    fund(player, "50.00")
    withdrawal = services.withdrawal_request(player=player, amount=eur("30.00"), idempotency_key="w")
    perm = Permission.objects.get(content_type__app_label="payments", codename="review_withdrawal")
    operators = []
    for _ in range(THREADS):
        user = staff_user()
        user.user_permissions.add(perm)
        operators.append(user)
    services.withdrawal_approve(withdrawal=withdrawal, actor=operators[0])

    def pay(i: int):
        return services.withdrawal_mark_paid(withdrawal=withdrawal, actor=operators[i], psp_reference=f"p-{i}")

    results = run_together(THREADS, pay)
    paid = [r for r in results if isinstance(r, Withdrawal)]
    assert len(paid) == 1, results
    assert all(type(r).__name__ == "InvalidState" for r in results if not isinstance(r, Withdrawal))
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.PAID
    assert LedgerTransaction.objects.filter(kind=TransactionKind.WITHDRAWAL_PAYOUT).count() == 1
    assert wallet_balances(player=player).held == eur("0.00")
    assert verify_ledger().ok


def test_cancel_racing_reject_releases_the_hold_once(player, fund, kyc_approved, staff_user):
    from django.contrib.auth.models import Permission

    fund(player, "50.00")
    withdrawal = services.withdrawal_request(player=player, amount=eur("30.00"), idempotency_key="w")
    reviewer = staff_user()
    reviewer.user_permissions.add(Permission.objects.get(content_type__app_label="payments", codename="review_withdrawal"))

    def act(i: int):
        if i % 2:
            return services.withdrawal_cancel(player=player, withdrawal_id=withdrawal.pk)
        return services.withdrawal_reject(withdrawal=withdrawal, actor=reviewer, reason="race")

    results = run_together(THREADS, act)
    assert len([r for r in results if isinstance(r, Withdrawal)]) == 1, results
    assert LedgerTransaction.objects.filter(kind=TransactionKind.WITHDRAWAL_REVERSAL).count() == 1
    assert wallet_balances(player=player).cash == eur("50.00")
    assert verify_ledger().ok
