"""National self-exclusion registers: the sandbox refuses a registered person at registration; the real clients are seams."""

from __future__ import annotations

from datetime import date

import pytest

from apps.markets.models import NationalRegisterEntry
from apps.markets.registers import GamstopClient, RgiajClient, identity_on_national_register, register_client
from apps.players.models import Player

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"


def body(**overrides) -> dict:
    data = {
        "email": "new@example.com", "password": "A-strong-passphrase-42", "first_name": "Maria", "last_name": "Pérez",
        "date_of_birth": "1980-02-02", "country": "ES", "currency": "EUR",
    }
    return {**data, **overrides}


def test_a_person_on_rgiaj_cannot_register_in_spain_but_may_elsewhere(api_client):
    NationalRegisterEntry.objects.create(register="rgiaj", first_name="MARÍA", last_name="Perez", date_of_birth=date(1980, 2, 2))
    refused = api_client.post(REGISTER, body(), format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "self_excluded"
    assert not Player.objects.exists()
    # RGIAJ binds Spanish licences only; the default licence checks no national register.
    assert api_client.post(REGISTER, body(country="PT"), format="json").status_code == 201


def test_gamstop_is_the_uk_register():
    NationalRegisterEntry.objects.create(register="gamstop", first_name="Tom", last_name="Jones", date_of_birth=date(1970, 1, 1))
    identity = {"first_name": "tom", "last_name": "JONES", "date_of_birth": date(1970, 1, 1)}
    assert identity_on_national_register("ukgc", **identity)
    assert not identity_on_national_register("dgoj", **identity)
    assert not identity_on_national_register("ukgc", **{**identity, "date_of_birth": date(1970, 1, 2)})


def test_the_document_number_matches_whatever_the_names():
    NationalRegisterEntry.objects.create(
        register="rgiaj", first_name="A", last_name="B", date_of_birth=date(1970, 1, 1), id_document_number="12345678Z"
    )
    identity = {"first_name": "C", "last_name": "D", "date_of_birth": date(1990, 1, 1)}
    assert identity_on_national_register("dgoj", **identity, id_document_number="12345678-z")


def test_the_real_clients_are_seams_that_refuse_to_pretend(settings):
    for client in (GamstopClient, RgiajClient):
        with pytest.raises(NotImplementedError):
            client("x")
    settings.NATIONAL_REGISTER_CLIENTS = {"gamstop": "apps.markets.registers.GamstopClient"}
    with pytest.raises(NotImplementedError):
        register_client("gamstop")


def test_a_player_added_to_the_register_later_is_barred_at_the_next_login(api_client, make_player):
    from apps.players.models import PlayerStatus

    player = make_player(email="later@example.com", first_name="Ana", last_name="Luz", country="ES", date_of_birth=date(1985, 5, 5))
    NationalRegisterEntry.objects.create(register="rgiaj", first_name="Ana", last_name="Luz", date_of_birth=date(1985, 5, 5))
    response = api_client.post("/api/v1/auth/token", {"email": "later@example.com", "password": "A-strong-passphrase-42"}, format="json")
    assert response.status_code == 200  # they may log in to withdraw
    player.refresh_from_db()
    assert player.status == PlayerStatus.SELF_EXCLUDED
    assert player.history.latest().history_change_reason == "On the national self-exclusion register (login)"
