"""GET /api/v1/staff/players?search= (API.md, Staff API): every staff role, never a player."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = pytest.mark.django_db

URL = "/api/v1/staff/players"


def api_as(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def people(make_player):
    return (
        make_player(email="jnunez@example.es", first_name="José", last_name="Núñez", phone="+34 600 123 456"),
        make_player(email="grace@example.org", first_name="Grace", last_name="Hopper", phone="+1 212 555 0100"),
    )


@pytest.mark.parametrize("role", ["operator", "compliance", "support"])
def test_every_staff_role_lists_players(staff_user, people, role):
    response = api_as(staff_user(role)).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    jose = next(row for row in body["results"] if row["email"] == "jnunez@example.es")
    assert jose == {
        "id": str(people[0].public_id), "email": "jnunez@example.es", "first_name": "José", "last_name": "Núñez",
        "country": "DE", "status": "active", "kyc_status": "none", "created_at": jose["created_at"],
    }


@pytest.mark.parametrize(
    ("term", "who"),
    [("jose nunez", 0), ("NÚÑEZ", 0), ("grace@", 1), ("212 555 0100", 1), ("600123456", 0)],
)
def test_search_by_name_email_phone(staff_user, people, term, who):
    rows = api_as(staff_user("support")).get(URL, {"search": term}).json()["results"]
    assert [row["id"] for row in rows] == [str(people[who].public_id)]


def test_search_by_id(staff_user, people):
    client = api_as(staff_user("operator"))
    assert [r["id"] for r in client.get(URL, {"search": str(people[1].public_id)}).json()["results"]] == [str(people[1].public_id)]
    assert str(people[1].public_id) in [r["id"] for r in client.get(URL, {"search": str(people[1].pk)}).json()["results"]]


def test_kyc_status_comes_from_the_case(staff_user, make_player, private_media):
    from apps.kyc.services import kyc_document_upload, kyc_submit
    from apps.kyc.tests.samples import PDF_BYTES, a_file, valid_until

    player = make_player(first_name="Kyc", last_name="Submitted")
    kyc_document_upload(player=player, kind="passport", uploaded_file=a_file(PDF_BYTES, "p.pdf", "application/pdf"),
                        expires_on=valid_until())
    kyc_submit(player=player)
    rows = api_as(staff_user("compliance")).get(URL, {"search": "kyc submitted"}).json()["results"]
    assert [r["kyc_status"] for r in rows] == ["submitted"]


def test_pages_are_cursor_paginated(staff_user, make_player):
    for _ in range(3):
        make_player()
    client = api_as(staff_user("operator"))
    first = client.get(URL, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    assert {r["id"] for r in second["results"]}.isdisjoint({r["id"] for r in first["results"]})


def test_a_player_token_is_refused(player_client):
    response = player_client.get(URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_staff_without_a_role_is_refused(staff_user):
    response = api_as(staff_user()).get(URL)
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_anonymous_is_401(api_client):
    response = api_client.get(URL)
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


def test_an_overlong_search_is_a_validation_error(staff_user):
    response = api_as(staff_user("support")).get(URL, {"search": "x" * 201})
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_the_schema_documents_it(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/staff/players"]["get"]
    assert operation["operationId"] == "staff_players_list"
    assert {p["name"] for p in operation["parameters"]} >= {"search", "cursor"}
    assert {"200", "401", "403"} <= set(operation["responses"])
    item = schema["components"]["schemas"]["StaffPlayerOut"]["properties"]
    assert set(item) == {"id", "email", "first_name", "last_name", "country", "status", "kyc_status", "created_at"}
