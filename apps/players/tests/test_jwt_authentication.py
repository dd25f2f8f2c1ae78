"""JWTAuthentication's shortcuts: the user lookup compiled once and access tokens verified once.

Both must answer exactly as simplejwt's own path does: the same user with the same player, and every
refusal (expired, deactivated, unknown user) still a refusal after the token was accepted.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.players.auth import JWTAuthentication, _verified_access_payload
from apps.players.models import User

pytestmark = pytest.mark.django_db


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_the_compiled_lookup_gives_the_orms_user_and_player(player, django_assert_num_queries):
    expected = User.objects.select_related("player").get(pk=player.user.pk)
    lookup = JWTAuthentication().user_model.objects
    with django_assert_num_queries(1):
        user = lookup.get(id=player.user.pk)
        assert user.player.public_id == expected.player.public_id  # joined: no second query
    fields = [f.attname for f in User._meta.concrete_fields]
    assert [getattr(user, f) for f in fields] == [getattr(expected, f) for f in fields]
    player_fields = [f.attname for f in type(player)._meta.concrete_fields]
    assert [getattr(user.player, f) for f in player_fields] == [getattr(expected.player, f) for f in player_fields]
    assert user._state.adding is False and user._state.db == "default"


@pytest.mark.parametrize("value", [10**12, "not-a-number", "1.5", None, True])
def test_an_unknown_or_malformed_user_id_is_not_found(value):
    with pytest.raises(User.DoesNotExist):
        JWTAuthentication().user_model.objects.get(id=value)


def test_a_token_accepted_before_is_still_refused_once_it_expires(player):
    token = str(AccessToken.for_user(player.user))
    assert client_with(token).get("/api/v1/wallet").status_code == 200  # verified and remembered
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    with time_machine.travel(timezone.now() + lifetime + timedelta(seconds=5)):
        expired = client_with(token).get("/api/v1/wallet")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_invalid"


def test_a_token_accepted_before_is_refused_once_the_user_is_deactivated(player):
    token = str(AccessToken.for_user(player.user))
    assert client_with(token).get("/api/v1/wallet").status_code == 200
    User.objects.filter(pk=player.user.pk).update(is_active=False)
    assert client_with(token).get("/api/v1/wallet").status_code == 401


def test_only_tokens_that_verified_are_remembered(player):
    _verified_access_payload.cache_clear()
    token = str(AccessToken.for_user(player.user))
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client_with(forged).get("/api/v1/wallet").status_code == 401
    assert _verified_access_payload.cache_info().currsize == 0
    assert client_with(token).get("/api/v1/wallet").status_code == 200
    assert client_with(forged).get("/api/v1/wallet").status_code == 401  # a near-copy of a remembered token gains nothing
    assert _verified_access_payload.cache_info().currsize == 1
