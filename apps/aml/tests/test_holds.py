"""A critical (or officer-frozen) alert holds the player's withdrawals until it is resolved (API.md: 403 account_under_review)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.aml import services
from apps.aml.models import AmlAlert
from apps.core.errors import AccountUnderReview, InvalidState, ValidationFailed
from apps.payments import services as payments
from apps.payments.models import Withdrawal, WithdrawalStatus

from .conftest import T0, money

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def kyc_approved(monkeypatch):
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


def _critical(player, post, sweep) -> AmlAlert:
    for i in range(4):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    post("deposit", player, "6000.00", at=T0 + timedelta(minutes=5))
    sweep()
    alert = AmlAlert.objects.get(player=player)
    assert alert.level == "critical" and alert.freezes_withdrawals
    return alert


def test_a_critical_alert_refuses_withdrawals_through_the_api_and_resolution_lifts_it(player, player_client, post, sweep, officer):
    alert = _critical(player, post, sweep)
    response = player_client.post("/api/v1/wallet/withdrawals", {"amount": "100.00"}, format="json", HTTP_IDEMPOTENCY_KEY="w1")
    assert response.status_code == 403 and response.json()["error"]["code"] == "account_under_review"
    assert "aml" not in response.content.decode().lower()  # no tipping-off (EU AMLD art. 39)
    services.alert_transition(alert_id=alert.pk, actor=officer, action="investigate", note="checking")
    assert player_client.post("/api/v1/wallet/withdrawals", {"amount": "100.00"}, format="json",
                              HTTP_IDEMPOTENCY_KEY="w2").status_code == 403
    services.alert_transition(alert_id=alert.pk, actor=officer, action="dismiss", note="salary, documented")
    response = player_client.post("/api/v1/wallet/withdrawals", {"amount": "100.00"}, format="json", HTTP_IDEMPOTENCY_KEY="w3")
    assert response.status_code == 201


def test_a_pending_withdrawal_cannot_be_approved_while_frozen(player, post, sweep, officer, operator):
    post("deposit", player, "50.00", at=T0 - timedelta(days=40))
    withdrawal = payments.withdrawal_request(player=player, amount=money("20.00"), idempotency_key="before")
    alert = _critical(player, post, sweep)
    with pytest.raises(AccountUnderReview):
        payments.withdrawal_approve(withdrawal=withdrawal, actor=operator)
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.REQUESTED
    services.alert_transition(alert_id=alert.pk, actor=officer, action="investigate", note="n")
    services.alert_transition(alert_id=alert.pk, actor=officer, action="escalate", note="SAR filed", sar_reference="FIU-1")
    # A SAR filed is not a player cleared: the freeze holds until an officer lifts it, with a note.
    with pytest.raises(AccountUnderReview):
        payments.withdrawal_approve(withdrawal=withdrawal, actor=operator)
    services.alert_lift_freeze(alert_id=alert.pk, actor=officer, note="FIU acknowledged, no hold order")
    assert payments.withdrawal_approve(withdrawal=withdrawal, actor=operator).status == WithdrawalStatus.APPROVED


def test_a_medium_alert_holds_nothing_until_an_officer_freezes_it(player, post, sweep, officer):
    for i in range(5):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    sweep()
    alert = AmlAlert.objects.get()
    assert payments.withdrawal_request(player=player, amount=money("5.00"), idempotency_key="a").status == "requested"
    services.alert_freeze_withdrawals(alert_id=alert.pk, actor=officer, note="source of funds asked")
    with pytest.raises(AccountUnderReview):
        payments.withdrawal_request(player=player, amount=money("5.00"), idempotency_key="b")


def test_only_compliance_works_alerts(player, post, sweep, operator):
    from apps.core.errors import PermissionDenied

    for i in range(5):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    sweep()
    alert = AmlAlert.objects.get()
    with pytest.raises(PermissionDenied):
        services.alert_transition(alert_id=alert.pk, actor=operator, action="investigate", note="n")
    with pytest.raises(PermissionDenied):
        services.alert_freeze_withdrawals(alert_id=alert.pk, actor=operator, note="n")


def test_escalating_keeps_the_freeze_and_only_a_noted_lift_releases_it(player, player_client, post, sweep, officer):
    alert = _critical(player, post, sweep)
    services.alert_transition(alert_id=alert.pk, actor=officer, action="investigate", note="checking")
    services.alert_transition(alert_id=alert.pk, actor=officer, action="escalate", note="SAR", sar_reference="FIU-2026-7")
    response = player_client.post("/api/v1/wallet/withdrawals", {"amount": "100.00"}, format="json", HTTP_IDEMPOTENCY_KEY="e1")
    assert response.status_code == 403 and response.json()["error"]["code"] == "account_under_review"
    with pytest.raises(ValidationFailed):
        services.alert_lift_freeze(alert_id=alert.pk, actor=officer, note="  ")
    lifted = services.alert_lift_freeze(alert_id=alert.pk, actor=officer, note="FIU: no objection to release")
    assert (lifted.status, lifted.freezes_withdrawals) == ("escalated", False)
    assert lifted.history.first().history_change_reason.startswith("withdrawal freeze lifted")
    response = player_client.post("/api/v1/wallet/withdrawals", {"amount": "100.00"}, format="json", HTTP_IDEMPOTENCY_KEY="e2")
    assert response.status_code == 201
    with pytest.raises(InvalidState):  # nothing left to lift
        services.alert_lift_freeze(alert_id=alert.pk, actor=officer, note="again")
