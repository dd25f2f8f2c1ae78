"""The alert's own page: the transitions its state allows as buttons, each with a note; compliance only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.aml.models import AlertStatus, AmlAlert

from .test_admin import alerts, browser  # noqa: F401  (the fixture and the client helper)

pytestmark = pytest.mark.django_db


def decide(alert, action: str) -> str:
    return reverse("admin:aml_amlalert_decide", args=[alert.pk, action])


def page(alert) -> str:
    return reverse("admin:aml_amlalert_change", args=[alert.pk])


def test_compliance_investigates_then_escalates_from_the_page(officer, alerts):  # noqa: F811
    alert = alerts[0]
    client = browser(officer)
    text = client.get(page(alert)).content.decode()
    assert 'id="aml-investigate"' in text and 'id="aml-escalate"' not in text  # open: only investigating is possible
    client.post(decide(alert, "investigate"), {"note": "Looking at the deposits."})
    text = client.get(page(alert)).content.decode()
    assert 'id="aml-investigate"' not in text and 'id="aml-escalate"' in text and 'id="aml-dismiss"' in text

    client.post(decide(alert, "escalate"), {"note": "Pattern confirmed.", "sar_reference": ""})
    assert AmlAlert.objects.get(pk=alert.pk).status == AlertStatus.INVESTIGATING  # no SAR reference: refused
    client.post(decide(alert, "escalate"), {"note": "Pattern confirmed.", "sar_reference": "SAR-2026-17"})
    alert = AmlAlert.objects.get(pk=alert.pk)
    assert alert.status == AlertStatus.ESCALATED and alert.sar_reference == "SAR-2026-17" and alert.resolved_by == officer
    assert 'id="aml-decisions"' not in client.get(page(alert)).content.decode()


def test_a_transition_the_state_forbids_is_refused(officer, alerts):  # noqa: F811
    alert = alerts[0]
    response = browser(officer).post(decide(alert, "dismiss"), {"note": "nothing"}, follow=True)
    assert AmlAlert.objects.get(pk=alert.pk).status == AlertStatus.OPEN
    assert b"unchanged" in response.content


@pytest.mark.parametrize("role", ["operator", "support"])
def test_other_roles_are_refused_by_url_and_by_post(staff_user, aml_roles, alerts, role):  # noqa: F811
    client = browser(staff_user(role))
    alert = alerts[0]
    assert client.get(page(alert)).status_code == 403
    assert client.post(decide(alert, "investigate"), {"note": "x"}).status_code == 403
    assert AmlAlert.objects.get(pk=alert.pk).status == AlertStatus.OPEN
