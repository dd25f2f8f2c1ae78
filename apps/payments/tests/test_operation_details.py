"""What the regulator asks per deposit and withdrawal is captured where it arises (REPORTS.md, CJD operations)."""

from __future__ import annotations

import json

from apps.payments.models import Deposit, Withdrawal
from apps.payments.services import device_class

from .helpers import new_key, post_money, post_webhook


def test_device_class_from_the_header_is_kept_on_deposits_and_withdrawals(player_client, kyc_approved):
    response = post_money(player_client, "/api/v1/wallet/deposits", {"amount": "50.00", "method": "sandbox"}, key=new_key())
    assert response.status_code == 201, response.content
    player_client.credentials(HTTP_AUTHORIZATION=player_client._credentials["HTTP_AUTHORIZATION"], HTTP_X_DEVICE_TYPE="tb")
    post_money(player_client, "/api/v1/wallet/deposits", {"amount": "10.00", "method": "sandbox"}, key=new_key())
    response = post_money(player_client, "/api/v1/wallet/withdrawals", {"amount": "5.00"}, key=new_key())
    assert response.status_code == 201, response.content
    assert list(Deposit.objects.order_by("id").values_list("device", flat=True)) == ["", "TB"]
    assert Withdrawal.objects.get().device == "TB"


def test_an_unknown_device_class_is_left_blank_never_guessed():
    assert (device_class("laptop"), device_class(" mo "), device_class(None)) == ("", "MO", "")


def test_the_psp_webhook_records_last_four_digits_and_holder_verification(player_client):
    response = post_money(player_client, "/api/v1/wallet/deposits", {"amount": "20.00", "method": "sandbox_async"}, key=new_key())
    deposit_id = response.json()["id"]
    payload = {"deposit_id": deposit_id, "status": "completed", "card_last4": "4242", "holder_verified": True}
    assert post_webhook(player_client, payload).status_code == 200
    deposit = Deposit.objects.get(pk=deposit_id)
    assert (deposit.card_last4, deposit.holder_verified, deposit.status) == ("4242", True, "completed")


def test_the_psp_webhook_refuses_malformed_last_digits(player_client):
    response = post_money(player_client, "/api/v1/wallet/deposits", {"amount": "20.00", "method": "sandbox_async"}, key=new_key())
    deposit_id = response.json()["id"]
    response = post_webhook(player_client, {"deposit_id": deposit_id, "status": "completed", "card_last4": "42a2"})
    assert response.status_code == 400 and "card_last4" in json.dumps(response.json())
    assert Deposit.objects.get(pk=deposit_id).status == "initiated"
