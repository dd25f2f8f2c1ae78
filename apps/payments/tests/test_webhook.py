import json

import pytest
from rest_framework.test import APIClient

from apps.ledger.models import LedgerTransaction, TransactionKind
from apps.ledger.selectors import wallet_balances
from apps.payments.models import Deposit, DepositStatus

from .helpers import eur, new_key, post_money, post_webhook, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(player_client) -> Deposit:
    response = post_money(player_client, "/api/v1/wallet/deposits", {"amount": "30.00", "method": "sandbox_async"}, new_key())
    assert response.status_code == 201
    return Deposit.objects.get(pk=response.json()["id"])


@pytest.fixture
def psp():
    return APIClient()


def deposits_posted() -> int:
    return LedgerTransaction.objects.filter(kind=TransactionKind.DEPOSIT).count()


def status_of(deposit: Deposit) -> str:
    return Deposit.objects.get(pk=deposit.pk).status


def test_completed_notification_credits_the_cash(psp, pending):
    response = post_webhook(psp, {"deposit_id": pending.pk, "status": "completed", "amount": "30.00", "currency": "EUR"})
    assert response.status_code == 200
    assert response.json() == {"deposit_id": pending.pk, "psp_reference": pending.psp_reference, "status": "completed"}
    assert status_of(pending) == DepositStatus.COMPLETED
    assert wallet_balances(player=pending.player).cash == eur("30.00")


def test_repeated_notification_is_answered_the_same_and_credits_once(psp, pending):
    payload = {"psp_reference": pending.psp_reference, "status": "completed"}
    first = post_webhook(psp, payload)
    again = post_webhook(psp, payload)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert deposits_posted() == 1
    assert wallet_balances(player=pending.player).cash == eur("30.00")


def test_failed_notification_credits_nothing_and_is_idempotent(psp, pending):
    payload = {"deposit_id": pending.pk, "status": "failed", "failure_reason": "card declined"}
    assert post_webhook(psp, payload).status_code == 200
    assert post_webhook(psp, payload).status_code == 200
    dep = Deposit.objects.get(pk=pending.pk)
    assert dep.status == DepositStatus.FAILED and dep.failure_reason == "card declined"
    assert deposits_posted() == 0


def test_completing_a_failed_deposit_is_invalid_state(psp, pending):
    post_webhook(psp, {"deposit_id": pending.pk, "status": "failed"})
    response = post_webhook(psp, {"deposit_id": pending.pk, "status": "completed"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_state"
    assert deposits_posted() == 0


def test_failing_a_completed_deposit_is_invalid_state(psp, pending):
    post_webhook(psp, {"deposit_id": pending.pk, "status": "completed"})
    response = post_webhook(psp, {"deposit_id": pending.pk, "status": "failed"})
    assert response.status_code == 409
    assert status_of(pending) == DepositStatus.COMPLETED
    assert wallet_balances(player=pending.player).cash == eur("30.00")


@pytest.mark.parametrize(
    "signature",
    ["", "deadbeef", "0" * 64, "é" * 64],
    ids=["missing", "short", "zeros", "non-ascii"],
)
def test_missing_or_bad_signature_is_401_and_does_nothing(psp, pending, signature):
    response = post_webhook(psp, {"deposit_id": pending.pk, "status": "completed"}, signature=signature)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"not_authenticated", "invalid_credentials"}
    assert status_of(pending) == DepositStatus.INITIATED
    assert deposits_posted() == 0


def test_signature_with_the_wrong_secret_is_refused(psp, pending):
    response = post_webhook(psp, {"deposit_id": pending.pk, "status": "completed"}, secret="not-the-secret")
    assert response.status_code == 401
    assert status_of(pending) == DepositStatus.INITIATED


def test_signature_over_other_bytes_is_refused(psp, pending, settings):
    signed = json.dumps({"deposit_id": pending.pk, "status": "failed"}).encode()
    sent = json.dumps({"deposit_id": pending.pk, "status": "completed"}).encode()
    response = post_webhook(psp, None, raw=sent, signature=sign(signed, settings.PSP_WEBHOOK_SECRET))
    assert response.status_code == 401
    assert status_of(pending) == DepositStatus.INITIATED


def test_uppercase_hex_signature_is_accepted(psp, pending, settings):
    raw = json.dumps({"deposit_id": pending.pk, "status": "completed"}).encode()
    response = post_webhook(psp, None, raw=raw, signature=sign(raw, settings.PSP_WEBHOOK_SECRET).upper())
    assert response.status_code == 200


def test_amount_different_from_the_deposit_is_refused(psp, pending):
    response = post_webhook(psp, {"deposit_id": pending.pk, "status": "completed", "amount": "300.00"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert status_of(pending) == DepositStatus.INITIATED


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "completed"},
        {"deposit_id": 1, "status": "pending"},
        {"deposit_id": "x", "status": "completed"},
        {"psp_reference": "sbx_x", "status": "completed", "amount": 30.0},
        {"psp_reference": "sbx_x", "status": "completed", "currency": "USD"},
    ],
)
def test_malformed_notifications_are_validation_errors(psp, pending, payload):
    payload = {k: (pending.psp_reference if v == "sbx_x" else v) for k, v in payload.items()}
    response = post_webhook(psp, payload)
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert status_of(pending) == DepositStatus.INITIATED


def test_mismatched_id_and_reference_is_refused(psp, pending):
    response = post_webhook(psp, {"deposit_id": pending.pk, "psp_reference": "sbx_other", "status": "completed"})
    assert response.status_code == 400
    assert status_of(pending) == DepositStatus.INITIATED


def test_signed_garbage_is_a_validation_error(psp, pending):
    response = post_webhook(psp, None, raw=b"{not json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_unknown_deposit_is_not_found(psp, pending):
    assert post_webhook(psp, {"deposit_id": pending.pk + 1000, "status": "completed"}).status_code == 404
    assert post_webhook(psp, {"psp_reference": "sbx_nobody", "status": "completed"}).status_code == 404


def test_completion_reaches_a_player_who_self_excluded_meanwhile(psp, pending):
    """The PSP has taken the money: it must land in the wallet (and can be withdrawn)."""
    from apps.players.services import player_self_exclude

    player_self_exclude(player=pending.player, actor=None, reason="player asked")
    assert post_webhook(psp, {"deposit_id": pending.pk, "status": "completed"}).status_code == 200
    assert wallet_balances(player=pending.player).cash == eur("30.00")
