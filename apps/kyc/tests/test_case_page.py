"""The KYC case page: declared identity, the document previewed inline, and only the decisions the state allows."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.kyc.models import KycCase, KycState

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(case) -> str:
    return reverse("admin:kyc_kyccase_change", args=[case.pk])


def decide(case, decision: str) -> str:
    return reverse("admin:kyc_kyccase_decide", args=[case.pk, decision])


def test_officer_sees_identity_preview_and_decisions(officer, make_player, case_in):
    player = make_player(first_name="Inês", last_name="Costa", phone="+351 912 345 678")
    case = case_in(player, "submitted")
    text = browser(officer).get(page(case)).content.decode()
    assert 'id="kyc-identity"' in text and "Inês Costa" in text and "+351 912 345 678" in text
    document = case.documents.get()
    file_url = reverse("admin:kyc_kyccase_document_file", args=[case.pk, document.pk])
    assert f'<iframe src="{file_url}"' in text
    for decision in ("start_review", "approve", "reject", "request_more_info"):
        assert f'id="kyc-{decision}"' in text, decision


def test_the_document_may_be_framed_by_the_admin_only(officer, make_player, case_in):
    case = case_in(make_player(), "submitted")
    document = case.documents.get()
    response = browser(officer).get(reverse("admin:kyc_kyccase_document_file", args=[case.pk, document.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]


def test_approve_from_the_page_then_no_decision_is_left(officer, make_player, case_in):
    case = case_in(make_player(), "submitted")
    client = browser(officer)
    assert client.post(decide(case, "approve"), {"note": "", "id_document_number": "X1234567"}).status_code == 302
    case = KycCase.objects.get(pk=case.pk)
    assert case.state == KycState.APPROVED and case.reviewer == officer
    assert 'id="kyc-decisions"' not in client.get(page(case)).content.decode()
    response = client.post(decide(case, "reject"), {"note": "too late"}, follow=True)
    assert KycCase.objects.get(pk=case.pk).state == KycState.APPROVED  # the state forbids it: refused, shown
    assert b"Not rejected" in response.content


def test_reject_needs_a_note(officer, make_player, case_in):
    case = case_in(make_player(), "in_review")
    browser(officer).post(decide(case, "reject"), {"note": ""})
    assert KycCase.objects.get(pk=case.pk).state == KycState.IN_REVIEW


@pytest.mark.parametrize("role", ["operator", "support"])
def test_other_roles_see_no_document_and_no_decision(staff_user, make_player, case_in, role):
    case = case_in(make_player(), "submitted")
    client = browser(staff_user(role))
    text = client.get(page(case)).content.decode()
    assert 'id="kyc-decisions"' not in text and "<iframe" not in text
    assert client.post(decide(case, "approve"), {"note": ""}).status_code == 403
    assert KycCase.objects.get(pk=case.pk).state == KycState.SUBMITTED
    document = case.documents.get()
    assert client.get(reverse("admin:kyc_kyccase_document_file", args=[case.pk, document.pk])).status_code == 403
