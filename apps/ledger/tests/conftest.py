"""Ledger fixtures: money helpers, staff in each role, and a runner for real concurrent threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from apps.core.money import Money


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def run_together(count: int, work: Callable[[int], object], *, timeout: float = 60) -> list[object]:
    """Start `count` threads at one barrier; each returns its result or the exception it raised.

    Each thread has its own database connection and closes it, so a test database can be dropped.
    """
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def runner(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,), name=f"ledger-test-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


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
