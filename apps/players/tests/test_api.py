"""The players and auth API, status code by status code (API.md "Players and auth")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.testing import run_together
from apps.players.models import Player, PlayerStatus
from apps.players.services import player_close, player_self_exclude, player_suspend
from conftest import client_for

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"
PLAYER_KEYS = {"id", "email", "first_name", "last_name", "country", "currency", "market", "status", "kyc_status", "created_at"}


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- register ---


def test_register_creates_player_and_answers_like_me(api_client, registration):
    body = registration(email="Grace.Hopper@Example.com", country="de", currency="eur", phone="+49 30 1234567", sex="F")
    response = api_client.post(REGISTER, body, format="json", HTTP_X_DEVICE_TYPE="mo", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == PLAYER_KEYS
    assert data["email"] == "grace.hopper@example.com"
    assert (data["country"], data["currency"], data["status"], data["kyc_status"]) == ("DE", "EUR", "active", "none")
    assert "password" not in data
    player = Player.objects.get(public_id=data["id"])
    assert player.signup_ip == "203.0.113.7"
    assert player.signup_device == "MO"
    assert (player.phone, player.sex) == ("+49 30 1234567", "F")
    assert player.user.check_password(body["password"])


def test_register_body_device_wins_over_header(api_client, registration):
    response = api_client.post(REGISTER, registration(signup_device="TB"), format="json", HTTP_X_DEVICE_TYPE="MO")
    assert response.status_code == 201
    assert Player.objects.get(public_id=response.json()["id"]).signup_device == "TB"


def test_register_underage_is_400_underage_on_the_day_before_the_18th_birthday(api_client, registration, time_machine):
    time_machine.move_to(datetime(2026, 6, 15, 12, tzinfo=UTC))
    response = api_client.post(REGISTER, registration(date_of_birth="2008-06-16"), format="json")
    assert response.status_code == 400
    assert error_code(response) == "underage"
    assert "date_of_birth" in response.json()["error"]["details"]

    on_the_birthday = api_client.post(REGISTER, registration(date_of_birth="2008-06-15"), format="json")
    assert on_the_birthday.status_code == 201


@pytest.mark.parametrize("country", ["KP", "us", "Fr"])
def test_register_from_blocked_country_is_400_country_blocked(api_client, registration, country):
    response = api_client.post(REGISTER, registration(country=country), format="json")
    assert response.status_code == 400
    assert error_code(response) == "country_blocked"
    assert not Player.objects.exists()


def test_register_gbp_wallet_from_allowed_country_is_fine(api_client, registration):
    response = api_client.post(REGISTER, registration(country="MT", currency="GBP"), format="json")
    assert response.status_code == 201
    assert response.json()["currency"] == "GBP"


def test_register_same_email_is_409_email_taken_whatever_the_case(api_client, registration):
    assert api_client.post(REGISTER, registration(email="taken@example.com"), format="json").status_code == 201
    for email in ("taken@example.com", "TAKEN@Example.COM"):
        response = api_client.post(REGISTER, registration(email=email), format="json")
        assert response.status_code == 409
        assert error_code(response) == "email_taken"
    assert Player.objects.filter(user__email__iexact="taken@example.com").count() == 1


@pytest.mark.parametrize("password", ["short1!", "password1234", "12345678901234", "grace.hopper.example"])
def test_register_weak_password_is_400_validation_error_on_password(api_client, registration, password):
    response = api_client.post(REGISTER, registration(password=password, email="grace.hopper@example.com"), format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert response.json()["error"]["details"]["password"]
    assert not Player.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"date_of_birth": "17/05/1990"}, "date_of_birth"),
        ({"date_of_birth": 19900517}, "date_of_birth"),
        ({"date_of_birth": "1990-02-30"}, "date_of_birth"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"country": "DEU"}, "country"),
        ({"country": "D1"}, "country"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"first_name": ""}, "first_name"),
        ({"sex": "Q"}, "sex"),
        ({"signup_device": "toaster"}, "signup_device"),
        ({"phone": "call me maybe"}, "phone"),
    ],
)
def test_register_malformed_field_is_400_validation_error_naming_the_field(api_client, registration, overrides, field):
    response = api_client.post(REGISTER, registration(**overrides), format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert field in response.json()["error"]["details"]


def test_register_missing_fields_are_all_reported(api_client):
    response = api_client.post(REGISTER, {}, format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {"email", "password", "first_name", "last_name", "date_of_birth", "country", "currency"} <= set(details)


def test_register_non_json_body_is_400_not_500(api_client):
    response = api_client.post(REGISTER, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


# --- token ---


def test_token_returns_a_pair_that_works(api_client, player, login):
    response = login(player.user.email.upper())
    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert me.get(ME).json()["id"] == str(player.public_id)


def test_token_records_the_login(player, login):
    assert login(player.user.email).status_code == 200
    player.user.refresh_from_db()
    assert player.user.last_login is not None


def test_login_starts_the_reality_check_session(player, login, time_machine):
    time_machine.move_to("2026-03-01T10:00:00Z")
    assert login(player.user.email).status_code == 200
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {login(player.user.email).json()['access']}")
    started = me.get("/api/v1/responsible-gaming").json()["session_started_at"]
    assert started is not None and started.startswith("2026-03-01T10:00")


@pytest.mark.parametrize("password", ["wrong-password-123", ""])
def test_token_wrong_password_is_401_invalid_credentials(player, login, password):
    response = login(player.user.email, password)
    if password == "":
        assert response.status_code == 400  # blank is a malformed body, not a login attempt
        return
    assert response.status_code == 401
    assert error_code(response) == "invalid_credentials"


def test_token_unknown_email_is_401_invalid_credentials(db, login):
    response = login("nobody@example.com")
    assert response.status_code == 401
    assert error_code(response) == "invalid_credentials"


def test_lockout_after_five_failures_even_with_the_right_password_then_cool_off(player, login, time_machine):
    email = player.user.email
    time_machine.move_to(datetime(2026, 3, 1, 10, tzinfo=UTC))
    for _ in range(5):
        assert login(email, "wrong-password-123").status_code == 401

    locked = login(email)  # the right password
    assert locked.status_code == 429
    assert error_code(locked) == "rate_limited"
    retry_after = int(locked["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    assert locked.json()["error"]["details"]["retry_after"] == retry_after
    # Recorded for operators: the attempt counter and the failure log (axes admin).
    assert AccessAttempt.objects.get(username=email).failures_since_start >= 5
    assert AccessFailureLog.objects.filter(username=email, locked_out=True).exists()

    time_machine.move_to(datetime(2026, 3, 1, 10, 14, tzinfo=UTC))
    assert login(email).status_code == 429

    time_machine.move_to(datetime(2026, 3, 1, 10, 30, tzinfo=UTC))
    assert login(email).status_code == 200


def test_lockout_counts_the_email_whatever_its_case(player, login):
    email = player.user.email
    for variant in (email, email.upper(), email.title(), email, email.upper()):
        assert login(variant, "wrong-password-123").status_code == 401
    assert login(email).status_code == 429


def test_lockout_is_per_email_not_per_client(make_player, login):
    victim, other = make_player(), make_player()
    for _ in range(5):
        login(victim.user.email, "wrong-password-123")
    assert login(victim.user.email).status_code == 429
    assert login(other.user.email).status_code == 200


def test_successful_login_resets_the_failure_count(player, login):
    email = player.user.email
    for _ in range(4):
        assert login(email, "wrong-password-123").status_code == 401
    assert login(email).status_code == 200
    for _ in range(4):
        assert login(email, "wrong-password-123").status_code == 401
    assert login(email).status_code == 200


def test_closed_player_cannot_log_in(player, login):
    player_close(player=player, actor=None, reason="requested by player")
    response = login(player.user.email)
    assert response.status_code == 403
    assert error_code(response) == "account_blocked"


def test_closed_status_is_not_revealed_without_the_password(player, login):
    player_close(player=player, actor=None, reason="requested by player")
    response = login(player.user.email, "wrong-password-123")
    assert response.status_code == 401


@pytest.mark.parametrize("service", [player_suspend, player_self_exclude])
def test_suspended_and_self_excluded_players_can_log_in(player, login, service):
    service(player=player, actor=None, reason="test")
    assert login(player.user.email).status_code == 200


def test_auth_endpoints_are_throttled_per_client(registration, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})
    client = APIClient(REMOTE_ADDR="198.51.100.23")
    statuses = [client.post(TOKEN, {"email": "x@example.com", "password": "whatever-123"}, format="json") for _ in range(3)]
    assert [r.status_code for r in statuses[:2]] == [401, 401]
    assert statuses[2].status_code == 429
    assert error_code(statuses[2]) == "rate_limited"
    assert int(statuses[2]["Retry-After"]) > 0


# --- refresh and logout ---


def test_refresh_rotates_and_the_old_refresh_token_is_rejected(player, tokens, api_client):
    first = tokens(player)
    response = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]

    reused = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert reused.status_code == 401
    assert error_code(reused) == "token_invalid"

    third = api_client.post(REFRESH, {"refresh": second["refresh"]}, format="json")
    assert third.status_code == 200
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {third.json()['access']}")
    assert me.get(ME).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_refresh_with_garbage_is_401_token_invalid(db, api_client, token):
    response = api_client.post(REFRESH, {"refresh": token}, format="json")
    assert response.status_code == 401
    assert error_code(response) == "token_invalid"


def test_refresh_with_an_access_token_is_401_token_invalid(player, tokens, api_client):
    response = api_client.post(REFRESH, {"refresh": tokens(player)["access"]}, format="json")
    assert response.status_code == 401
    assert error_code(response) == "token_invalid"


def test_refresh_without_body_is_400(db, api_client):
    response = api_client.post(REFRESH, {}, format="json")
    assert response.status_code == 400
    assert "refresh" in response.json()["error"]["details"]


def test_refresh_token_expires(player, tokens, api_client, time_machine):
    pair = tokens(player)
    time_machine.move_to(datetime.now(UTC) + timedelta(days=8))
    response = api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401
    assert error_code(response) == "token_invalid"


def test_logout_revokes_the_refresh_token(player, tokens, api_client):
    pair = tokens(player)
    response = api_client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204
    assert response.content == b""

    refused = api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert refused.status_code == 401
    assert error_code(refused) == "token_invalid"
    again = api_client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert again.status_code == 401


def test_logout_needs_no_access_token_and_ignores_a_stale_one(player, tokens):
    pair = tokens(player)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer expired-or-garbage")
    assert client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 204


def test_logout_of_one_session_leaves_the_other(player, tokens, api_client):
    phone, laptop = tokens(player), tokens(player)
    assert api_client.post(LOGOUT, {"refresh": phone["refresh"]}, format="json").status_code == 204
    assert api_client.post(REFRESH, {"refresh": laptop["refresh"]}, format="json").status_code == 200


def test_closing_a_player_ends_their_sessions(player, tokens, api_client):
    pair = tokens(player)
    player_close(player=player, actor=None, reason="fraud")
    response = api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_issue_only_one_pair(make_player):
    player = make_player()
    refresh = str(RefreshToken.for_user(player.user))
    results = run_together(4, lambda _: APIClient().post(REFRESH, {"refresh": refresh}, format="json").status_code)
    assert sorted(results) == [200, 401, 401, 401]


# --- me ---


def test_me_returns_the_callers_profile(player_client):
    response = player_client.get(ME)
    assert response.status_code == 200
    data = response.json()
    player = player_client.player
    assert set(data) == PLAYER_KEYS
    assert data["id"] == str(player.public_id)
    assert data["email"] == player.user.email
    assert (data["first_name"], data["last_name"]) == (player.user.first_name, player.user.last_name)
    assert data["status"] == "active"
    assert data["kyc_status"] in {"none", "submitted", "in_review", "approved", "rejected", "more_info_required"}
    assert datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")) == player.created_at


def test_me_shows_the_current_status(player_client):
    player_suspend(player=player_client.player, actor=None, reason="check")
    assert player_client.get(ME).json()["status"] == PlayerStatus.SUSPENDED


def test_me_without_token_is_401_not_authenticated(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_me_with_garbage_token_is_401_token_invalid(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    response = api_client.get(ME)
    assert response.status_code == 401
    assert error_code(response) == "token_invalid"


def test_me_with_expired_access_token_is_401_token_invalid(player_client, time_machine):
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=16))
    response = player_client.get(ME)
    assert response.status_code == 401
    assert error_code(response) == "token_invalid"


def test_a_player_only_ever_sees_their_own_profile(make_player):
    alice, bob = make_player(first_name="Alice"), make_player(first_name="Bob")
    assert client_for(alice).get(ME).json()["id"] == str(alice.public_id)
    assert client_for(bob).get(ME).json()["id"] == str(bob.public_id)
    # Query strings cannot point /me elsewhere.
    assert client_for(alice).get(ME, {"id": str(bob.public_id)}).json()["email"] == alice.user.email


def test_me_for_a_staff_login_without_player_is_404(staff_user):
    staff = staff_user("support")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(staff).access_token}")
    response = client.get(ME)
    assert response.status_code == 404
    assert error_code(response) == "not_found"


# --- the rest of the API surface ---


def test_unknown_api_url_is_json_404(api_client):
    response = api_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert error_code(response) == "not_found"


def test_wrong_method_is_json_405(player_client):
    response = player_client.delete(ME)
    assert response.status_code == 405
    assert "error" in response.json()


def test_schema_documents_the_players_endpoints_without_warnings(db):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    ours = ("RegisterApi", "TokenObtainApi", "TokenRefreshApi", "LogoutApi", "MeApi", "apps/players", "apps.players")
    messages = [m for m in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache] if any(o in m for o in ours)]
    assert messages == []
    paths = schema["paths"]
    assert {"/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/token/refresh", "/api/v1/auth/logout", "/api/v1/me"} <= set(paths)
    assert "201" in paths["/api/v1/auth/register"]["post"]["responses"]
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]
    assert "204" in paths["/api/v1/auth/logout"]["post"]["responses"]
