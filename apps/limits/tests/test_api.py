"""The responsible-gaming API: paths, fields and status codes from API.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.limits.models import Limit

from .helpers import START

pytestmark = pytest.mark.django_db

RG = "/api/v1/responsible-gaming"


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_overview_needs_authentication(api_client):
    response = api_client.get(RG)
    assert response.status_code == 401 and error_code(response) == "not_authenticated"


def test_overview_with_a_real_token(player_client):
    response = player_client.get(RG)
    assert response.status_code == 200
    body = response.json()
    assert body["limits"] == []
    for field in ("self_excluded_until", "timeout_until", "reality_check_minutes", "session_started_at", "reality_check_due"):
        assert field in body
    assert body["permanent_exclusion"] is False


def test_staff_without_a_player_profile_is_refused(staff_user):
    client = APIClient()
    client.force_authenticate(user=staff_user())
    response = client.get(RG)
    assert response.status_code == 403 and error_code(response) == "permission_denied"


def test_set_lower_and_higher_limit(rg_client, clock_at):
    response = rg_client.put(f"{RG}/limits/deposit/day", {"amount": "50.00"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["period"], body["amount"], body["currency"], body["pending_amount"], body["pending_from"]) == (
        "deposit",
        "day",
        "50.00",
        "EUR",
        None,
        None,
    )
    assert (body["used"], body["remaining"]) == ("0.00", "50.00")

    body = rg_client.put(f"{RG}/limits/deposit/day", {"amount": "75.50"}, format="json").json()
    assert body["amount"] == "50.00" and body["pending_amount"] == "75.50"
    assert datetime.fromisoformat(body["pending_from"].replace("Z", "+00:00")) == START + timedelta(hours=24)

    clock_at.shift(timedelta(hours=24))
    [limit] = rg_client.get(RG).json()["limits"]
    assert limit["amount"] == "75.50" and limit["pending_amount"] is None


def test_delete_waits_the_cooling_off(rg_client, clock_at):
    rg_client.put(f"{RG}/limits/wager/week", {"amount": "20.00"}, format="json")
    response = rg_client.delete(f"{RG}/limits/wager/week")
    assert response.status_code == 200
    assert response.json()["pending_removal"] is True and response.json()["amount"] == "20.00"
    clock_at.shift(timedelta(hours=24))
    assert rg_client.get(RG).json()["limits"] == []


def test_delete_of_no_limit_is_not_found(rg_client):
    response = rg_client.delete(f"{RG}/limits/loss/month")
    assert response.status_code == 404 and error_code(response) == "not_found"


@pytest.mark.parametrize("suffix", ["time/day", "deposit/year", "Deposit/day", "deposit/day/extra"])
def test_unknown_kind_or_period_is_not_found(rg_client, suffix):
    response = rg_client.put(f"{RG}/limits/{suffix}", {"amount": "10.00"}, format="json")
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert not Limit.objects.exists()


@pytest.mark.parametrize("amount", [10, "10", "-5.00", "0.00", "0", "10.001", "1e3", " 10.00", "NaN", None, ""])
def test_bad_amounts_are_validation_errors(rg_client, amount):
    response = rg_client.put(f"{RG}/limits/deposit/day", {"amount": amount}, format="json")
    if amount == "10":
        assert response.status_code == 200  # a whole number string is a valid plain decimal
        return
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert "amount" in response.json()["error"]["details"]


def test_missing_amount_is_a_validation_error(rg_client):
    response = rg_client.put(f"{RG}/limits/deposit/day", {}, format="json")
    assert response.status_code == 400 and error_code(response) == "validation_error"


@pytest.mark.parametrize("hours", [23, 1009, "abc", None, True])
def test_bad_timeout_hours_are_400(rg_client, hours):
    response = rg_client.post(f"{RG}/timeout", {"hours": hours}, format="json")
    assert response.status_code == 400 and error_code(response) == "validation_error"


def test_timeout_then_no_shortening(rg_client, clock_at):
    response = rg_client.post(f"{RG}/timeout", {"hours": 48}, format="json")
    assert response.status_code == 200
    assert datetime.fromisoformat(response.json()["timeout_until"].replace("Z", "+00:00")) == START + timedelta(hours=48)
    response = rg_client.post(f"{RG}/timeout", {"hours": 24}, format="json")
    assert response.status_code == 409 and error_code(response) == "invalid_state"


@pytest.mark.parametrize("body", [{"months": 3}, {}, {"months": 6, "permanent": True}, {"months": "six"}, {"permanent": False}])
def test_bad_self_exclusion_requests_are_400(rg_client, body):
    response = rg_client.post(f"{RG}/self-exclusion", body, format="json")
    assert response.status_code == 400 and error_code(response) == "validation_error"


def test_self_exclusion_and_the_excluded_player_can_still_read_and_tighten(rg_client, clock_at):
    response = rg_client.post(f"{RG}/self-exclusion", {"months": 6}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert datetime.fromisoformat(body["self_excluded_until"].replace("Z", "+00:00")) == datetime(2025, 9, 3, 12, tzinfo=UTC)
    assert rg_client.get("/api/v1/responsible-gaming").status_code == 200
    assert rg_client.put(f"{RG}/limits/deposit/day", {"amount": "5.00"}, format="json").status_code == 200
    # There is no way to lift it early.
    assert rg_client.delete(f"{RG}/self-exclusion").status_code == 405
    response = rg_client.post(f"{RG}/reactivate")
    assert response.status_code == 403 and error_code(response) == "self_excluded"


def test_permanent_self_exclusion(rg_client, clock_at):
    body = rg_client.post(f"{RG}/self-exclusion", {"permanent": True}, format="json").json()
    assert body["permanent_exclusion"] is True and body["self_excluded_until"] is None
    response = rg_client.post(f"{RG}/self-exclusion", {"months": 60}, format="json")
    assert response.status_code == 409 and error_code(response) == "invalid_state"


def test_reactivate_after_the_period(rg_client, clock_at):
    rg_client.post(f"{RG}/self-exclusion", {"months": 6}, format="json")
    clock_at.move_to(datetime(2025, 9, 3, 12, tzinfo=UTC), tick=False)
    response = rg_client.post(f"{RG}/reactivate")
    assert response.status_code == 200
    assert datetime.fromisoformat(response.json()["reactivation_from"].replace("Z", "+00:00")) == datetime(2025, 9, 4, 12, tzinfo=UTC)


def test_reactivate_when_not_excluded_is_invalid_state(rg_client):
    response = rg_client.post(f"{RG}/reactivate")
    assert response.status_code == 409 and error_code(response) == "invalid_state"


@pytest.mark.parametrize(("minutes", "status"), [(10, 400), (241, 400), ("x", 400), (30, 200), (None, 200)])
def test_reality_check_interval(rg_client, minutes, status):
    response = rg_client.post(f"{RG}/reality-check", {"minutes": minutes}, format="json")
    assert response.status_code == status
    if status == 200:
        assert response.json()["reality_check_minutes"] == minutes


def test_reality_check_acknowledge(rg_client, clock_at):
    from apps.limits.services import protection_session_start

    rg_client.post(f"{RG}/reality-check", {"minutes": 15}, format="json")
    protection_session_start(player=rg_client.player)
    clock_at.shift(timedelta(minutes=15))
    assert rg_client.get(RG).json()["reality_check_due"] is True
    response = rg_client.post(f"{RG}/reality-check/acknowledge")
    assert response.status_code == 200 and response.json()["reality_check_due"] is False


def test_schema_documents_the_endpoints():
    generator = SchemaGenerator(patterns=[path("api/v1/", include("apps.limits.urls"))])
    schema = generator.get_schema(request=None, public=True)
    assert {
        "/api/v1/responsible-gaming",
        "/api/v1/responsible-gaming/limits/{kind}/{period}",
        "/api/v1/responsible-gaming/timeout",
        "/api/v1/responsible-gaming/self-exclusion",
        "/api/v1/responsible-gaming/reality-check",
        "/api/v1/responsible-gaming/reactivate",
    } <= set(schema["paths"])
    limit_put = schema["paths"]["/api/v1/responsible-gaming/limits/{kind}/{period}"]["put"]
    assert "requestBody" in limit_put
