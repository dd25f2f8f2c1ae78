"""Fixtures shared by every app's tests."""

from __future__ import annotations

import itertools
import os
from decimal import Decimal

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.money import Money

# CI must be reproducible: the same examples every run (a failure there prints its blob to replay).
# Locally, hypothesis keeps exploring new examples each run.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_market_policies():
    """Market rules are cached per process; a test's rule change is rolled back, so its cache must go too."""
    from apps.markets.selectors import clear_policy_cache

    clear_policy_cache()
    yield
    clear_policy_cache()


@pytest.fixture(autouse=True)
def _settings_restored():
    """A test's settings overrides end with it: overrides unwound out of order once left a dead Redis cache in
    place for every later test (throttles off, the wallet fast path handing everything to Django)."""
    from django.conf import settings

    caches = settings.CACHES
    yield
    assert caches == settings.CACHES, "this test left CACHES overridden"


@pytest.fixture
def private_media(settings, tmp_path):
    """KYC documents land in a throw-away private directory for this test, never a developer's own."""
    root = tmp_path / "private-media"
    root.mkdir()
    settings.PRIVATE_MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}},
    }
    return root


@pytest.fixture
def make_player(db):
    """Create a registered player through the real registration service (tests.factories.PlayerFactory)."""
    from tests.factories import PlayerFactory

    def make(**overrides):
        return PlayerFactory(**overrides)

    return make


@pytest.fixture
def player(make_player):
    return make_player()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def player_client(player):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(player.user).access_token}")
    client.player = player
    return client


def client_for(player) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(player.user).access_token}")
    client.player = player
    return client


@pytest.fixture
def fund():
    """Credit a player's cash through the ledger's deposit posting (no PSP, no limits)."""
    from apps.ledger.services import deposit_post

    def credit(player, amount: str, key: str | None = None):
        return deposit_post(
            player=player,
            amount=Money(Decimal(amount), player.currency),
            idempotency_key=key or f"test-fund:{player.pk}:{next(_counter)}",
            reference="test-fund",
        )

    return credit


@pytest.fixture
def synced_roles(db):
    """The staff groups exactly as production has them: the real role sync over every app's roles.py.

    A flushed test database (transactional tests) loses the groups that post_migrate made; syncing
    here means a test never hand-copies permissions and so never tests a role production lacks.
    """
    from apps.core.role_sync import sync_role_permissions

    sync_role_permissions()


@pytest.fixture
def staff_user(synced_roles):
    from apps.players.models import User

    def make(group: str | None = None, *, superuser: bool = False, email: str | None = None):
        from django.contrib.auth.models import Group

        email = email or f"{group or 'admin'}-{next(_counter)}@casino.test"
        if superuser:
            return User.objects.create_superuser(email=email, password="Staff-passphrase-42")
        user = User.objects.create_user(email=email, password="Staff-passphrase-42", is_staff=True)
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    return make
