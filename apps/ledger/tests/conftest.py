"""Ledger fixtures: money helpers, staff in each role, and a runner for real concurrent threads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.core.money import Money
from apps.core.testing import run_together  # noqa: F401 - the ledger tests import it from here


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.fixture
def ledger_roles(db):
    """The staff groups with this app's permissions, whether or not the roles sync has run in this database."""
    from django.contrib.auth.models import Group, Permission

    from apps.ledger.roles import ROLE_PERMISSIONS

    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture
def staff_client(client, staff_user, ledger_roles):
    """A Django test client logged in as a new staff member of the given role (or a superuser)."""

    def make(role: str | None = None, *, superuser: bool = False):
        user = staff_user(role, superuser=superuser)
        client.force_login(user)
        client.user = user
        return client

    return make
