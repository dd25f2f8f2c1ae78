"""The withdrawal page as a work queue (player context, Approve and Reject) and the payments CSV exports, by role."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.models import DataExport
from apps.payments.models import Withdrawal, WithdrawalStatus
from apps.payments.services import withdrawal_request

from .helpers import eur

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pending(player, kyc_approved):
    from tests.factories import DepositFactory

    DepositFactory(player=player, amount="100.00")
    return withdrawal_request(player=player, amount=eur("40.00"), idempotency_key="w-queue")


def decide_url(withdrawal, decision: str) -> str:
    return reverse("admin:payments_withdrawal_decide", args=[withdrawal.pk, decision])


def change_url(withdrawal) -> str:
    return reverse("admin:payments_withdrawal_change", args=[withdrawal.pk])


def test_the_page_shows_the_player_context_and_the_decisions(operator, pending):
    text = client_for(operator).get(change_url(pending)).content.decode()
    assert 'id="withdrawal-player-context"' in text
    assert "60.00 EUR" in text  # cash left after the hold
    assert "Lifetime deposits" in text and "100.00 EUR (1 completed)" in text
    assert "KYC status" in text and "Risk level" in text
    assert 'id="withdrawal-approve"' in text and 'id="withdrawal-reject"' in text


def test_operator_approves_then_only_reject_is_offered(operator, pending):
    client = client_for(operator)
    assert client.post(decide_url(pending, "approve"), {"reason": "checked"}).status_code == 302
    pending = Withdrawal.objects.get(pk=pending.pk)
    assert pending.status == WithdrawalStatus.APPROVED and pending.reviewed_by == operator
    from django.contrib.admin.models import LogEntry

    entry = LogEntry.objects.get(object_id=str(pending.pk), content_type__model="withdrawal")
    assert entry.user == operator and entry.get_change_message() == "Approved: checked"  # "Recent actions" shows it
    text = client.get(change_url(pending)).content.decode()
    assert 'id="withdrawal-approve"' not in text and 'id="withdrawal-reject"' in text


def test_approve_from_the_360_returns_there(operator, pending):
    back = reverse("admin:players_player_change", args=[pending.player_id]) + "?tab=payments"
    response = client_for(operator).post(decide_url(pending, "approve"), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    response = client_for(operator).post(decide_url(pending, "reject"), {"next": "https://evil.example/", "reason": "x"})
    assert response["Location"] == change_url(pending)  # never an open redirect


def test_reject_needs_a_reason_and_returns_the_money(operator, pending, player):
    from apps.ledger.selectors import wallet_balances

    client = client_for(operator)
    client.post(decide_url(pending, "reject"), {"reason": ""})
    pending = Withdrawal.objects.get(pk=pending.pk)
    assert pending.status == WithdrawalStatus.REQUESTED
    client.post(decide_url(pending, "reject"), {"reason": "Name on the card does not match."})
    pending = Withdrawal.objects.get(pk=pending.pk)
    assert pending.status == WithdrawalStatus.REJECTED
    assert wallet_balances(player=player).cash == eur("100.00")


@pytest.mark.parametrize("role", ["support", "compliance"])
def test_other_roles_see_no_buttons_and_are_refused_by_post(staff_user, payment_roles, pending, role):
    client = client_for(staff_user(role))
    text = client.get(change_url(pending)).content.decode()
    assert 'id="withdrawal-approve"' not in text and 'id="withdrawal-reject"' not in text
    assert client.post(decide_url(pending, "approve")).status_code == 403
    assert client.post(decide_url(pending, "reject"), {"reason": "x"}).status_code == 403
    pending = Withdrawal.objects.get(pk=pending.pk)
    assert pending.status == WithdrawalStatus.REQUESTED


def test_decisions_are_post_only(operator, pending):
    assert client_for(operator).get(decide_url(pending, "approve")).status_code == 405


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_deposit_and_withdrawal_exports_with_date_range(operator, pending):
    from tests.factories import DepositFactory

    DepositFactory(player=pending.player, amount="0.07")  # a cent amount stays exact: no float on the way
    client = client_for(operator)
    today = pending.created_at.date().isoformat()
    rows = csv_rows(client.get(reverse("admin:payments_deposit_export"), {"date_from": today, "date_to": today, "export": "1"}))
    assert sorted(row["amount"] for row in rows) == ["0.07", "100.00"]
    rows = csv_rows(client.get(reverse("admin:payments_withdrawal_export"), {"date_from": today, "export": "1"}))
    assert [(row["amount"], row["status"]) for row in rows] == [("40.00", "requested")]
    rows = csv_rows(client.get(reverse("admin:payments_withdrawal_export"), {"date_to": "2001-01-01", "export": "1"}))
    assert rows == []
    kinds = list(DataExport.objects.order_by("pk").values_list("kind", "rows"))
    assert kinds[1:] == [("withdrawals", 1), ("withdrawals", 0)]


def test_a_backwards_date_range_is_refused_on_the_form(operator):
    response = client_for(operator).get(
        reverse("admin:payments_withdrawal_export"), {"date_from": "2026-02-01", "date_to": "2026-01-01", "export": "1"}
    )
    assert response.status_code == 200 and b"before its start" in response.content
    assert not DataExport.objects.exists()


def test_support_may_not_export_payments(support):
    client = client_for(support)
    assert client.get(reverse("admin:payments_deposit_export"), {"export": "1"}).status_code == 403
    assert client.get(reverse("admin:payments_withdrawal_export"), {"export": "1"}).status_code == 403
    assert b"Export CSV" not in client.get(reverse("admin:payments_withdrawal_changelist")).content
