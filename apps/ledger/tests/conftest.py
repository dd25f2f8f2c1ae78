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


@pytest.fixture(params=["one_statement", "step_by_step"])
def write_path(request, monkeypatch):
    """Run a test on both posting paths: PostgreSQL's one ledger_post call, and the step-by-step one SQLite takes."""
    from apps.ledger import engine

    if request.param == "step_by_step":
        monkeypatch.setattr(engine, "_single_statement", lambda: False)
    return request.param


@pytest.fixture
def crash_after_write(monkeypatch, write_path):
    """crash_after_write(should_crash): the posting's rows are written, then the process "dies" before COMMIT.

    `should_crash(idempotency_key)` picks the postings that crash; they raise RuntimeError after the database work.
    """
    from apps.ledger import engine

    def install(should_crash):
        if write_path == "one_statement":
            post = engine._post_in_database

            def crashing_post(args):
                row = post(args)
                if row[0] == "posted" and should_crash(args[1]):
                    raise RuntimeError("process killed after the rows were written, before COMMIT")
                return row

            monkeypatch.setattr(engine, "_post_in_database", crashing_post)
        else:
            write = engine._write

            def crashing_write(values, amounts):
                result = write(values, amounts)
                if should_crash(values["idempotency_key"]):
                    raise RuntimeError("process killed after the rows were written, before COMMIT")
                return result

            monkeypatch.setattr(engine, "_write", crashing_write)

    return install
