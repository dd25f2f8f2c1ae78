"""AML fixtures: money through the ledger's own postings at chosen times, and the compliance role."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from apps.core.money import Money

_keys = itertools.count(1)
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def money(amount: str, currency: str = "EUR") -> Money:
    return Money(Decimal(amount), currency)


@pytest.fixture(autouse=True)
def shipped_rules(request):
    """The rules migration 0002 ships. A transactional test empties every table when it ends, rows from data
    migrations included, so a later test would find no rules at all: put them back as shipped."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        return
    request.getfixturevalue("django_db_blocker")
    from importlib import import_module

    from apps.aml.models import AmlRule

    shipped = import_module("apps.aml.migrations.0002_default_rules_and_schedules").RULES
    for rule in shipped:
        AmlRule.objects.get_or_create(kind=rule["kind"], defaults=rule)


@pytest.fixture
def post():
    """post(kind, player, "10.00", at=T0 + ...): one ledger posting (deposit, bet, withdrawal hold) at a chosen time."""
    from apps.ledger import services as ledger

    functions = {"deposit": ledger.deposit_post, "bet": ledger.bet_post, "withdrawal": ledger.withdrawal_hold_post}

    def make(kind: str, player, amount: str, *, at: datetime = T0):
        with time_machine.travel(at, tick=False):
            return functions[kind](
                player=player, amount=money(amount, player.currency), idempotency_key=f"aml-test:{next(_keys)}", reference=f"test:{kind}"
            )

    return make


@pytest.fixture
def aml_roles(db):
    """The staff groups with the AML permissions, whether or not the roles sync ran in this database."""
    from django.contrib.auth.models import Group, Permission

    from apps.aml.roles import ROLE_PERMISSIONS as AML
    from apps.payments.roles import ROLE_PERMISSIONS as PAYMENTS

    for declared in (AML, PAYMENTS):
        for role, perms in declared.items():
            group, _ = Group.objects.get_or_create(name=role)
            for dotted in perms:
                app_label, codename = dotted.split(".")
                group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture
def officer(staff_user, aml_roles):
    return staff_user("compliance")


@pytest.fixture
def operator(staff_user, aml_roles):
    return staff_user("operator")


@pytest.fixture
def sweep():
    """Run the monitoring sweep as of a time (default: just after T0's patterns)."""
    from apps.aml.services import monitoring_sweep

    def run(at: datetime = T0 + timedelta(hours=1)):
        with time_machine.travel(at, tick=False):
            return monitoring_sweep()

    return run
