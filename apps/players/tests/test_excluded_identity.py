"""A self-excluded person cannot come back under another email (issue #11): the identity is excluded, not the account."""

from __future__ import annotations

import pytest

from apps.players.models import ExcludedIdentity, Player, PlayerStatus
from apps.players.services import player_close, player_reactivate, player_register, player_self_exclude
from conftest import client_for

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"


def self_exclude_through_the_api(player) -> None:
    response = client_for(player).post("/api/v1/responsible-gaming/self-exclusion", {"months": 6}, format="json")
    assert response.status_code == 200, response.content


def test_a_self_excluded_identity_re_registering_under_a_new_email_is_refused(api_client, registration, make_player):
    original = make_player(email="jose@example.com", first_name="José", last_name="García López", country="ES")
    self_exclude_through_the_api(original)

    again = registration(email="pepe.new@example.com", first_name="  jose ", last_name="GARCIA-LOPEZ", date_of_birth="1990-01-01")
    response = api_client.post(REGISTER, again, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "self_excluded"
    assert not Player.objects.filter(user__email="pepe.new@example.com").exists()

    other_person = registration(email="namesake@example.com", first_name="José", last_name="García López", date_of_birth="1991-01-01")
    assert api_client.post(REGISTER, other_person, format="json").status_code == 201


def test_the_exclusion_survives_closing_the_account(api_client, registration, make_player, staff_user):
    original = make_player(first_name="Mary", last_name="Major")
    self_exclude_through_the_api(original)
    player_close(player=Player.objects.get(pk=original.pk), actor=staff_user("operator"), reason="player asked")
    response = api_client.post(REGISTER, registration(first_name="Mary", last_name="Major", date_of_birth="1990-01-01"), format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "self_excluded"


def test_the_identity_is_free_again_once_the_player_returns(make_player):
    original = make_player(first_name="Ann", last_name="Other")
    excluded = player_self_exclude(player=original, actor=None, reason="asked")
    assert ExcludedIdentity.objects.filter(player=original, active=True).count() == 1
    player_reactivate(player=excluded, actor=None, reason="period over, asked to return")
    assert not ExcludedIdentity.objects.filter(active=True).exists()
    player_register(
        email="ann.again@example.com", password="A-strong-passphrase-42", first_name="Ann", last_name="Other",
        date_of_birth=original.date_of_birth, country="DE", currency="EUR",
    )


def test_another_account_of_the_person_is_barred_at_its_next_login(api_client, make_player):
    older = make_player(email="twin-a@example.com", first_name="Sam", last_name="Double")
    other_account = make_player(email="twin-b@example.com", first_name="Sam", last_name="Double")  # before the exclusion
    self_exclude_through_the_api(older)

    response = api_client.post("/api/v1/auth/token", {"email": "twin-b@example.com", "password": "A-strong-passphrase-42"}, format="json")
    assert response.status_code == 200  # they may still log in to withdraw
    other_account.refresh_from_db()
    assert other_account.status == PlayerStatus.SELF_EXCLUDED
    assert other_account.history.latest().history_change_reason == "Identity matches a self-excluded person (login)"
    deposit = client_for(other_account).post(
        "/api/v1/wallet/deposits", {"amount": "10.00", "method": "sandbox"}, format="json", HTTP_IDEMPOTENCY_KEY="twin-dep"
    )
    assert deposit.status_code == 403 and deposit.json()["error"]["code"] == "self_excluded"
