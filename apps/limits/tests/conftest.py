"""Fixtures for the responsible-gaming tests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .helpers import START


@pytest.fixture
def clock_at(time_machine):
    """Freeze time at START; tests move it with time_machine.shift / move_to, never by sleeping."""
    time_machine.move_to(START, tick=False)
    return time_machine


@pytest.fixture
def rg_client(player):
    """Authenticated without a JWT, so moving the clock by days cannot expire the token."""
    client = APIClient()
    client.force_authenticate(user=player.user)
    client.player = player
    return client


@pytest.fixture
def role_user(staff_user):
    """A staff user in one role, its group holding exactly what the real role sync gives it."""
    return staff_user
