import pytest

from apps.ledger.models import AccountKind, LedgerTransaction, TransactionKind
from apps.ledger.selectors import wallet_balances
from apps.payments import services
from apps.payments.models import Withdrawal, WithdrawalStatus
from apps.players.services import player_close, player_self_exclude, player_suspend

from .helpers import client_for, eur, new_key, post_money

pytestmark = pytest.mark.django_db

URL = "/api/v1/wallet/withdrawals"


def withdraw(client, amount="10.00", key=None, **extra):
    return post_money(client, URL, {"amount": amount, **extra}, key or new_key("wd"))


def cancel(client, withdrawal_id, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"{URL}/{withdrawal_id}/cancel", **headers)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def balances(player) -> tuple[str, str]:
    b = wallet_balances(player=player)
    return str(b.cash), str(b.held)


@pytest.fixture
def funded_client(player_client, fund, kyc_approved):
    fund(player_client.player, "50.00")
    return player_client


def test_request_moves_cash_to_hold(funded_client):
    response = withdraw(funded_client, "20.00")
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "status": "requested", "amount": "20.00"}
    assert balances(funded_client.player) == ("30.00", "20.00")
    w = Withdrawal.objects.get(pk=body["id"])
    assert w.hold_transaction.idempotency_key == f"withdrawal:{w.pk}:hold"


def test_without_approved_kyc_the_request_is_refused(player_client, fund):
    fund(player_client.player, "50.00")
    response = withdraw(player_client, "20.00")
    assert response.status_code == 403 and error_code(response) == "kyc_required"
    assert balances(player_client.player) == ("50.00", "0.00")
    assert not Withdrawal.objects.exists()


def test_more_than_withdrawable_cash_is_insufficient_funds(funded_client):
    response = withdraw(funded_client, "50.01")
    assert response.status_code == 422 and error_code(response) == "insufficient_funds"
    assert not Withdrawal.objects.exists()
    assert balances(funded_client.player) == ("50.00", "0.00")


def test_held_money_is_not_withdrawable_twice(funded_client):
    assert withdraw(funded_client, "40.00").status_code == 201
    response = withdraw(funded_client, "20.00")
    assert response.status_code == 422 and error_code(response) == "insufficient_funds"


def test_whole_balance_can_be_withdrawn(funded_client):
    assert withdraw(funded_client, "50.00").status_code == 201
    assert balances(funded_client.player) == ("0.00", "50.00")


@pytest.mark.parametrize("amount", [10.5, 10, "-5.00", "0.00", "1e3", "10.001", " 10", "NaN"], ids=repr)
def test_amount_validation(funded_client, amount):
    response = withdraw(funded_client, amount)
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert not Withdrawal.objects.exists()


def test_wrong_currency_is_a_validation_error(funded_client):
    response = withdraw(funded_client, "10.00", currency="USD")
    assert response.status_code == 400 and error_code(response) == "validation_error"


def test_replay_and_conflict_and_missing_key(funded_client):
    first = withdraw(funded_client, "10.00", key="w-1")
    again = withdraw(funded_client, "10.00", key="w-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Withdrawal.objects.count() == 1
    assert balances(funded_client.player) == ("40.00", "10.00")

    conflict = withdraw(funded_client, "11.00", key="w-1")
    assert conflict.status_code == 409 and error_code(conflict) == "idempotency_conflict"

    missing = post_money(funded_client, URL, {"amount": "10.00"}, key=None)
    assert missing.status_code == 400 and error_code(missing) == "validation_error"
    assert Withdrawal.objects.count() == 1


def test_self_excluded_player_can_still_withdraw_but_not_deposit(funded_client):
    player_self_exclude(player=funded_client.player, actor=None, reason="player asked")
    assert withdraw(funded_client, "20.00").status_code == 201
    assert balances(funded_client.player) == ("30.00", "20.00")
    response = post_money(funded_client, "/api/v1/wallet/deposits", {"amount": "10.00", "method": "sandbox"}, new_key())
    assert response.status_code == 403 and error_code(response) == "self_excluded"


@pytest.mark.parametrize("block", [player_suspend, player_close])
def test_suspended_or_closed_player_cannot_withdraw(funded_client, block):
    block(player=funded_client.player, actor=None, reason="test")
    response = withdraw(funded_client, "10.00")
    assert response.status_code == 403 and error_code(response) == "account_blocked"


# --- cancel ---


def test_cancel_returns_the_held_money(funded_client):
    wid = withdraw(funded_client, "20.00").json()["id"]
    response = cancel(funded_client, wid)
    assert response.status_code == 200
    assert response.json() == {"id": wid, "status": "cancelled", "amount": "20.00"}
    assert balances(funded_client.player) == ("50.00", "0.00")
    w = Withdrawal.objects.get(pk=wid)
    assert w.cancelled_at is not None
    assert w.settlement_transaction.idempotency_key == f"withdrawal:{wid}:release"


def test_second_cancel_is_invalid_state_and_moves_nothing(funded_client):
    wid = withdraw(funded_client, "20.00").json()["id"]
    cancel(funded_client, wid)
    response = cancel(funded_client, wid)
    assert response.status_code == 409 and error_code(response) == "invalid_state"
    assert balances(funded_client.player) == ("50.00", "0.00")
    assert LedgerTransaction.objects.filter(kind=TransactionKind.WITHDRAWAL_REVERSAL).count() == 1


def test_cancel_with_an_idempotency_key_replays_the_first_answer(funded_client):
    wid = withdraw(funded_client, "20.00").json()["id"]
    first = cancel(funded_client, wid, key="c-1")
    again = cancel(funded_client, wid, key="c-1")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert balances(funded_client.player) == ("50.00", "0.00")


def test_cancel_after_approval_is_invalid_state(funded_client, operator):
    wid = withdraw(funded_client, "20.00").json()["id"]
    services.withdrawal_approve(withdrawal=Withdrawal.objects.get(pk=wid), actor=operator)
    response = cancel(funded_client, wid)
    assert response.status_code == 409 and error_code(response) == "invalid_state"
    assert balances(funded_client.player) == ("30.00", "20.00")


def test_another_players_withdrawal_is_not_found(funded_client, make_player, fund):
    other = client_for(make_player())
    fund(other.player, "10.00")
    wid = withdraw(other, "10.00").json()["id"]
    response = cancel(funded_client, wid)
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert Withdrawal.objects.get(pk=wid).status == WithdrawalStatus.REQUESTED


def test_unknown_withdrawal_is_not_found(funded_client):
    assert cancel(funded_client, 999999).status_code == 404
    assert funded_client.post(f"{URL}/abc/cancel").status_code == 404


# --- the operator side, through the services ---


def test_lifecycle_approve_then_pay(funded_client, operator):
    wid = withdraw(funded_client, "20.00").json()["id"]
    approved = services.withdrawal_approve(withdrawal=Withdrawal.objects.get(pk=wid), actor=operator, note="docs fine")
    assert approved.status == WithdrawalStatus.APPROVED and approved.reviewed_by == operator and approved.reviewed_at
    assert balances(funded_client.player) == ("30.00", "20.00")  # still held until paid

    paid = services.withdrawal_mark_paid(withdrawal=approved, actor=operator, psp_reference="payout-77")
    assert paid.status == WithdrawalStatus.PAID and paid.psp_reference == "payout-77" and paid.paid_by == operator
    assert balances(funded_client.player) == ("30.00", "0.00")
    payout = paid.settlement_transaction
    assert payout.kind == TransactionKind.WITHDRAWAL_PAYOUT and payout.idempotency_key == f"withdrawal:{wid}:payout"
    assert payout.created_by == operator
    clearing = payout.entries.get(account__kind=AccountKind.PSP_CLEARING)
    assert clearing.amount == 2000

    history = list(Withdrawal.objects.get(pk=wid).history.order_by("history_id"))
    assert [h.status for h in history][-2:] == ["approved", "paid"]
    assert history[-1].history_user == operator


def test_reject_returns_the_money_with_a_reason(funded_client, operator):
    wid = withdraw(funded_client, "20.00").json()["id"]
    rejected = services.withdrawal_reject(withdrawal=Withdrawal.objects.get(pk=wid), actor=operator, reason="  bonus abuse  ")
    assert rejected.status == WithdrawalStatus.REJECTED and rejected.rejection_reason == "bonus abuse"
    assert balances(funded_client.player) == ("50.00", "0.00")
    assert rejected.settlement_transaction.reason == "bonus abuse"
    assert Withdrawal.objects.get(pk=wid).history.latest().history_change_reason == "bonus abuse"


def test_an_approved_withdrawal_can_still_be_rejected(funded_client, operator):
    wid = withdraw(funded_client, "20.00").json()["id"]
    w = services.withdrawal_approve(withdrawal=Withdrawal.objects.get(pk=wid), actor=operator)
    services.withdrawal_reject(withdrawal=w, actor=operator, reason="PSP refused the payout")
    assert balances(funded_client.player) == ("50.00", "0.00")


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_needs_a_reason(funded_client, operator, reason):
    from apps.core.errors import ValidationFailed

    wid = withdraw(funded_client, "20.00").json()["id"]
    with pytest.raises(ValidationFailed):
        services.withdrawal_reject(withdrawal=Withdrawal.objects.get(pk=wid), actor=operator, reason=reason)
    assert Withdrawal.objects.get(pk=wid).status == WithdrawalStatus.REQUESTED


def test_steps_out_of_order_are_invalid_state(funded_client, operator):
    from apps.core.errors import InvalidState

    wid = withdraw(funded_client, "20.00").json()["id"]
    w = Withdrawal.objects.get(pk=wid)
    with pytest.raises(InvalidState):
        services.withdrawal_mark_paid(withdrawal=w, actor=operator)
    services.withdrawal_approve(withdrawal=w, actor=operator)
    with pytest.raises(InvalidState):
        services.withdrawal_approve(withdrawal=w, actor=operator)
    services.withdrawal_mark_paid(withdrawal=w, actor=operator)
    for step in (
        lambda: services.withdrawal_mark_paid(withdrawal=w, actor=operator),
        lambda: services.withdrawal_reject(withdrawal=w, actor=operator, reason="too late"),
        lambda: services.withdrawal_cancel(player=funded_client.player, withdrawal_id=w.pk),
    ):
        with pytest.raises(InvalidState):
            step()
    assert balances(funded_client.player) == ("30.00", "0.00")
    assert LedgerTransaction.objects.filter(kind=TransactionKind.WITHDRAWAL_PAYOUT).count() == 1


def test_review_needs_the_permission(funded_client, support, compliance):
    from apps.core.errors import PermissionDenied

    w = Withdrawal.objects.get(pk=withdraw(funded_client, "20.00").json()["id"])
    for actor in (support, compliance, None, funded_client.player.user):
        with pytest.raises(PermissionDenied):
            services.withdrawal_approve(withdrawal=w, actor=actor)
        with pytest.raises(PermissionDenied):
            services.withdrawal_reject(withdrawal=w, actor=actor, reason="x")
    assert Withdrawal.objects.get(pk=w.pk).status == WithdrawalStatus.REQUESTED


def test_self_excluded_players_pending_withdrawal_stays_payable(funded_client, operator):
    w = Withdrawal.objects.get(pk=withdraw(funded_client, "20.00").json()["id"])
    player_self_exclude(player=funded_client.player, actor=None, reason="player asked")
    services.withdrawal_approve(withdrawal=w, actor=operator)
    assert services.withdrawal_mark_paid(withdrawal=w, actor=operator).status == WithdrawalStatus.PAID


def test_service_replay_returns_the_same_withdrawal(player, fund, kyc_approved):
    fund(player, "50.00")
    first = services.withdrawal_request(player=player, amount=eur("10.00"), idempotency_key="svc")
    again = services.withdrawal_request(player=player, amount=eur("10.00"), idempotency_key="svc")
    assert first.pk == again.pk
    assert balances(player) == ("40.00", "10.00")
