"""Staff API (API.md): compliance lists and works alerts; everyone else is 403 permission_denied."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.aml.models import AmlAlert

from .conftest import T0

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/staff/aml/alerts"


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def alert(player, post, sweep):
    for i in range(5):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    sweep()
    return AmlAlert.objects.get(player=player)


def _transition(client, alert, **body):
    return client.post(f"{ALERTS}/{alert.pk}/transition", body, format="json")


def test_compliance_lists_alerts_newest_first_with_the_contract_fields(officer, alert, make_player, post, sweep):
    other = make_player()
    post("deposit", other, "7000.00", at=T0 + timedelta(minutes=30))
    sweep(T0 + timedelta(hours=2))
    body = _client(officer).get(ALERTS).json()
    assert set(body) == {"results", "next", "previous"}
    first, second = body["results"]
    assert set(first) == {"id", "player_id", "rule", "level", "score", "status", "evidence", "created_at"}
    assert first["player_id"] == other.pk and second["id"] == alert.pk
    assert (second["rule"], second["level"], second["score"], second["status"]) == ("deposit_velocity", "medium", 40, "open")
    assert len(second["evidence"]["hits"][0]["transaction_ids"]) == 5


def test_filters_by_player_status_and_level(officer, alert, make_player, post, sweep):
    other = make_player()
    post("deposit", other, "7000.00", at=T0 + timedelta(minutes=30))
    sweep(T0 + timedelta(hours=2))
    client = _client(officer)
    assert [a["id"] for a in client.get(ALERTS, {"player": alert.player_id}).json()["results"]] == [alert.pk]
    assert [a["player_id"] for a in client.get(ALERTS, {"level": "medium"}).json()["results"]] == [other.pk, alert.player_id]
    assert client.get(ALERTS, {"status": "dismissed"}).json()["results"] == []
    bad = client.get(ALERTS, {"level": "extreme"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"


def test_cursor_pagination(officer, make_player, post, sweep):
    for n in range(3):
        post("deposit", make_player(), "6000.00", at=T0 + timedelta(minutes=n))
    sweep()
    first = _client(officer).get(ALERTS, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    rest = _client(officer).get(first["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None


@pytest.mark.parametrize("who", ["player", "operator", "support"])
def test_players_operators_and_support_are_refused(who, alert, staff_user, aml_roles):
    user = alert.player.user if who == "player" else staff_user(who)
    client = _client(user)
    for response in (client.get(ALERTS), _transition(client, alert, action="investigate", note="x")):
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert AmlAlert.objects.get().status == "open"


def test_anonymous_is_401(api_client):
    assert api_client.get(ALERTS).status_code == 401


def test_investigate_then_escalate_with_a_sar(officer, alert):
    client = _client(officer)
    response = _transition(client, alert, action="investigate", note="pulling the player's statements")
    assert response.status_code == 200 and response.json()["status"] == "investigating"
    response = _transition(
        client, alert, action="escalate", note="funds unexplained", sar_reference="FIU-2026-0042", sar_filed_on="2026-11-03"
    )
    assert response.status_code == 200 and response.json()["status"] == "escalated"
    alert.refresh_from_db()
    assert (alert.sar_reference, str(alert.sar_filed_on), alert.resolved_by) == ("FIU-2026-0042", "2026-11-03", officer)
    notes = [h.history_change_reason for h in alert.history.order_by("history_id")]
    assert notes[-2:] == ["investigate: pulling the player's statements", "escalate: funds unexplained"]


@pytest.mark.parametrize(("path", "action"), [([], "dismiss"), ([], "escalate"), (["investigate", "dismiss"], "investigate"),
                                              (["investigate", "dismiss"], "escalate")])
def test_transitions_the_state_does_not_allow_are_409(officer, alert, path, action):
    client = _client(officer)
    for step in path:
        assert _transition(client, alert, action=step, note="step").status_code == 200
    before = AmlAlert.objects.get().status
    response = _transition(client, alert, action=action, note="not now", sar_reference="S-1")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_state"
    assert AmlAlert.objects.get().status == before


@pytest.mark.parametrize("body", [{"action": "investigate"}, {"action": "investigate", "note": "  "}, {"action": "close", "note": "x"}])
def test_a_note_and_a_known_action_are_required(officer, alert, body):
    response = _transition(_client(officer), alert, **body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert AmlAlert.objects.get().status == "open"


def test_escalating_needs_a_sar_reference(officer, alert):
    client = _client(officer)
    _transition(client, alert, action="investigate", note="n")
    response = _transition(client, alert, action="escalate", note="n")
    assert response.status_code == 400 and "sar_reference" in response.json()["error"]["details"]
    assert AmlAlert.objects.get().status == "investigating"


def test_unknown_alert_is_404(officer):
    response = _client(officer).post(f"{ALERTS}/999999/transition", {"action": "investigate", "note": "n"}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
