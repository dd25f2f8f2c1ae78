"""Ledger fixtures: money helpers, staff in each role, and a runner for real concurrent threads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.core.money import Money
from apps.core.testing import run_together  # noqa: F401 - the ledger tests import it from here


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.fixture
def ledger_roles(synced_roles):
    """The staff groups with every app's permissions (kept as a name for the tests that ask for it)."""


@pytest.fixture
def staff_client(client, staff_user, ledger_roles):
    """A Django test client logged in as a new staff member of the given role (or a superuser)."""

    def make(role: str | None = None, *, superuser: bool = False):
        user = staff_user(role, superuser=superuser)
        client.force_login(user)
        client.user = user
        return client

    return make
