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
    """A staff user in one role, its group carrying exactly this app's ROLE_PERMISSIONS (as the players app syncs them)."""
    from django.contrib.auth.models import Group, Permission

    from apps.limits.roles import ROLE_PERMISSIONS

    def make(role: str):
        group, _ = Group.objects.get_or_create(name=role)
        for label in ROLE_PERMISSIONS[role]:
            app_label, codename = label.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return staff_user(group=role)

    return make
