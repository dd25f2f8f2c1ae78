"""Defects found by probing the running server from outside (issue 7, "Hardening"): each test failed before its fix."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from apps.core.cache import DegradingRedisCache
from apps.core.http import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "A-strong-passphrase-42"


def _rates(**rates: str) -> dict:
    return {"anon": "10000/min", "user": "10000/min", "auth": "10000/min", **rates}


@pytest.fixture
def throttles(monkeypatch):
    """Real throttle rates for one test, with a clean throttle history (DRF reads the rates at import)."""

    def set_rates(**rates: str) -> None:
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", _rates(**rates))
        cache.clear()

    yield set_rates
    cache.clear()


def _body(email: str, password: str = PASSWORD) -> dict:
    return {"email": email, "password": password}


# --- X-Forwarded-For is believed only from a trusted proxy ---


def _request(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # no proxy configured: the header is ignored
        (["10.0.0.0/8"], "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # the peer is not our proxy
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4", "1.2.3.4"),  # our proxy says who the client is
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client's own prefix is not believed
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 10.0.0.7", "1.2.3.4"),  # two proxies of ours
        (["10.0.0.0/8"], "10.0.0.2", "garbage", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", None, "10.0.0.2"),
        (["10.0.0.0/8"], "not-an-ip", "1.2.3.4", None),
        (["2001:db8::/32"], "2001:db8::1", "2001:db8:ffff::1, 198.51.100.4", "198.51.100.4"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_from_configured_proxies(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_ip(_request(remote, forwarded)) == expected


def test_varying_forwarded_for_does_not_escape_the_auth_throttle(throttles):
    throttles(auth="3/min")
    client = APIClient()
    statuses = [
        # A different email each time, so the per-email lock-out (django-axes) plays no part.
        client.post(
            "/api/v1/auth/token", _body(f"nobody{n}@example.com"), format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        ).status_code
        for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_a_trusted_proxy_gives_each_client_its_own_throttle(throttles, settings, registration_body):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    throttles(auth="2/min")
    client = APIClient(REMOTE_ADDR="127.0.0.1")
    first = [
        client.post("/api/v1/auth/register", registration_body(), format="json", HTTP_X_FORWARDED_FOR="198.51.100.1")
        for _ in range(3)
    ]
    other = client.post("/api/v1/auth/register", registration_body(), format="json", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert [r.status_code for r in first] == [201, 201, 429]
    assert other.status_code == 201
    from apps.players.models import Player

    assert Player.objects.get(user__email=other.json()["email"]).signup_ip == "198.51.100.2"


def test_signup_ip_ignores_forwarded_for_from_an_untrusted_peer(settings, registration_body):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = APIClient(REMOTE_ADDR="203.0.113.5").post(
        "/api/v1/auth/register", registration_body(), format="json", HTTP_X_FORWARDED_FOR="1.2.3.4"
    )
    from apps.players.models import Player

    assert response.status_code == 201
    assert Player.objects.get(user__email=response.json()["email"]).signup_ip == "203.0.113.5"


@pytest.fixture
def registration_body():
    counter = iter(range(1, 10_000))

    def make() -> dict:
        return {
            "email": f"hardening-{next(counter)}-{id(counter)}@example.com",
            "password": PASSWORD,
            "first_name": "Grace",
            "last_name": "Hopper",
            "date_of_birth": "1990-05-17",
            "country": "DE",
            "currency": "EUR",
        }

    return make


# --- Redis down: the cache degrades, logins keep working ---

DEAD_REDIS = {
    "default": {
        "BACKEND": "apps.core.cache.DegradingRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


def test_redis_down_login_refresh_and_registration_answer_normally(make_player, registration_body, throttles, caplog):
    throttles(auth="30/min", anon="60/min", user="600/min")
    player = make_player()
    client = APIClient()
    with override_settings(CACHES=DEAD_REDIS), caplog.at_level(logging.ERROR, logger="apps.core.cache"):
        DegradingRedisCache._last_logged = 0.0
        registered = client.post("/api/v1/auth/register", registration_body(), format="json")
        login = client.post("/api/v1/auth/token", _body(player.user.email), format="json")
        refreshed = client.post("/api/v1/auth/token/refresh", {"refresh": login.json()["refresh"]}, format="json")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
        me = client.get("/api/v1/me")
    assert (registered.status_code, login.status_code, refreshed.status_code, me.status_code) == (201, 200, 200, 200)
    assert "Redis unreachable" in caplog.text


def test_degrading_cache_answers_as_empty_when_redis_is_unreachable():
    from django.core.cache import caches

    with override_settings(CACHES=DEAD_REDIS):
        dead = caches["default"]
        dead.set("k", 1)
        assert dead.get("k", "missing") == "missing"
        assert dead.add("k", 1) is False
        assert dead.get_many(["k"]) == {}


# --- Bodies a client controls ---


def _nested(depth: int) -> str:
    return '{"email": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_json_is_a_validation_error_on_the_unauthenticated_login(depth):
    response = APIClient().post("/api/v1/auth/token", data=_nested(depth), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_nesting_within_the_limit_still_parses():
    from apps.core.parsers import MAX_JSON_DEPTH, json_depth_exceeds

    assert not json_depth_exceeds(json.loads(_nested(MAX_JSON_DEPTH - 1)), MAX_JSON_DEPTH)
    assert json_depth_exceeds(json.loads(_nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)


@pytest.mark.parametrize("raw", ["p=x", "p=1e99999", "p=", "r=1&p=abc", "o=1&p=99999999999999999999999"])
def test_a_malformed_pagination_cursor_is_a_404_with_the_error_shape(player_client, raw):
    cursor = base64.b64encode(raw.encode()).decode()
    response = player_client.get("/api/v1/wallet/transactions", {"cursor": cursor})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_request_django_refuses_before_the_view_gets_the_error_shape_under_api():
    from django.core.exceptions import RequestDataTooBig

    from apps.core.api import api_bad_request

    api = api_bad_request(RequestFactory().post("/api/v1/auth/register"), RequestDataTooBig("too big"))
    admin = api_bad_request(RequestFactory().post("/admin/login/"), RequestDataTooBig("too big"))
    assert (api.status_code, api["Content-Type"]) == (400, "application/json")
    assert json.loads(api.content)["error"]["details"] == {"body": ["The request body is too large."]}
    assert admin.status_code == 400 and admin["Content-Type"].startswith("text/html")


def test_an_oversized_multipart_field_gets_the_error_shape(settings, player_client):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = player_client.post("/api/v1/kyc/documents", {"kind": "passport" + "x" * 4096}, format="multipart")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "validation_error"


def test_an_oversized_json_body_is_refused_before_parsing(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"email": "a@example.com", "password": "x" * 4096})
    response = APIClient().post("/api/v1/auth/token", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"body": ["The request body is too large."]}


# --- Per-user throttling ---


def test_the_user_throttle_applies_to_authenticated_calls(throttles, player_client):
    throttles(user="3/min")
    statuses = [player_client.get("/api/v1/wallet").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_the_login_ip_axes_records_is_the_same_client_ip(settings, make_player):
    from axes.models import AccessAttempt

    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    player = make_player()
    APIClient(REMOTE_ADDR="10.0.0.2").post(
        "/api/v1/auth/token", _body(player.user.email, "wrong-password-1"), format="json", HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    APIClient(REMOTE_ADDR="203.0.113.5").post(
        "/api/v1/auth/token", _body(player.user.email, "wrong-password-1"), format="json", HTTP_X_FORWARDED_FOR="198.51.100.8"
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7", "203.0.113.5"}


def test_the_signed_psp_webhook_is_not_throttled_per_ip(throttles):
    throttles(anon="1/min")
    client = APIClient()
    statuses = [client.post("/api/v1/payments/webhooks/psp", {}, format="json").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]  # refused by the signature check, never by a throttle
