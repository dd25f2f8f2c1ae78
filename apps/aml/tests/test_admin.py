"""Compliance's alert queue in the admin; operators and support see the risk level on the 360 only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin import helpers
from django.test import Client
from django.urls import reverse

from apps.aml.models import AmlAlert, AmlRule

from .conftest import T0

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/aml/amlalert/"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alerts(make_player, post, sweep):
    """A medium alert (velocity) first, then a critical one (velocity + large) a minute younger."""
    medium, critical = make_player(), make_player()
    for i in range(5):
        post("deposit", medium, "10.00", at=T0 + timedelta(minutes=i))
    for i in range(4):
        post("deposit", critical, "10.00", at=T0 + timedelta(minutes=i + 1))
    post("deposit", critical, "6000.00", at=T0 + timedelta(minutes=6))
    sweep()
    return AmlAlert.objects.get(player=medium), AmlAlert.objects.get(player=critical)


def run_action(client, action: str, objs, **extra):
    return client.post(CHANGELIST, {"action": action, helpers.ACTION_CHECKBOX_NAME: [o.pk for o in objs], **extra})


def test_queue_is_sorted_by_level_then_age(officer, alerts):
    medium, critical = alerts
    response = browser(officer).get(CHANGELIST)
    assert response.status_code == 200
    assert [a.pk for a in response.context["cl"].result_list] == [critical.pk, medium.pk]


def test_alert_page_shows_the_evidence_and_the_recent_ledger(officer, alerts):
    medium, _ = alerts
    page = browser(officer).get(reverse("admin:aml_amlalert_change", args=[medium.pk])).content.decode()
    assert "deposit_velocity" in page and "transaction_ids" in page
    assert "player&#x27;s recent cash ledger" in page or "recent cash ledger" in page
    assert page.count("<td>deposit</td>") == 5


def test_bulk_assignment_and_transitions_with_a_note(officer, staff_user, alerts):
    colleague = staff_user("compliance")
    client = browser(officer)
    response = run_action(client, "assign", alerts)
    assert response.status_code == 200 and b"Officer" in response.content  # the intermediate page
    run_action(client, "assign", alerts, officer=colleague.pk, apply="1")
    assert {a.assigned_to for a in AmlAlert.objects.all()} == {colleague}
    run_action(client, "investigate", alerts, note="statements requested", apply="1")
    assert set(AmlAlert.objects.values_list("status", flat=True)) == {"investigating"}
    run_action(client, "escalate", alerts[:1], note="funds unexplained", sar_reference="FIU-9", apply="1")
    assert AmlAlert.objects.get(pk=alerts[0].pk).sar_reference == "FIU-9"
    assert AmlAlert.objects.get(pk=alerts[0].pk).history.first().history_change_reason == "escalate: funds unexplained"


def test_a_refused_transition_is_reported_not_applied(officer, alerts):
    response = run_action(browser(officer), "dismiss", alerts, note="nothing", apply="1")
    assert response.status_code == 302
    assert set(AmlAlert.objects.values_list("status", flat=True)) == {"open"}


@pytest.mark.parametrize("role", ["operator", "support"])
def test_operators_and_support_see_the_risk_level_on_the_360_but_not_the_alerts(role, staff_user, aml_roles, alerts):
    from django.contrib.auth.models import Group, Permission

    from apps.players.roles import ROLE_PERMISSIONS as PLAYERS

    for dotted in PLAYERS.get(role, []):
        app_label, codename = dotted.split(".")
        Group.objects.get(name=role).permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = browser(staff_user(role))
    assert client.get(CHANGELIST).status_code == 403
    page = client.get(reverse("admin:players_player_change", args=[alerts[1].player_id])).content.decode()
    assert "<h3>AML</h3>" in page and "critical" in page and "frozen" in page
    assert "large_transaction" not in page


def test_rules_are_tuned_with_history_but_never_added_or_deleted(officer):
    client = browser(officer)
    rule = AmlRule.objects.get(kind="deposit_velocity")
    assert client.get("/admin/aml/amlrule/add/").status_code == 403
    data = {"enabled": "on", "score": "45", "count": "6", "window_minutes": "60", "lookback_days": "", "amount_eur": "", "ratio": "",
            "description": "tuned"}
    response = client.post(reverse("admin:aml_amlrule_change", args=[rule.pk]), data)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.score, rule.count) == (45, 6)
    assert rule.history.first().history_user == officer
    data["count"] = ""
    response = client.post(reverse("admin:aml_amlrule_change", args=[rule.pk]), data)
    assert response.status_code == 200 and "This rule needs it." in response.content.decode()
