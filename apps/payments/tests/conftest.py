"""Payments fixtures: KYC stand-in and staff roles."""

from __future__ import annotations

import pytest


@pytest.fixture
def kyc_approved(monkeypatch):
    """Every player counts as KYC-approved (the KYC app is stood in for, through its module)."""
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


@pytest.fixture
def payment_roles(db):
    """The staff groups with this app's permissions, whether or not the roles sync has run in this database."""
    from django.contrib.auth.models import Group, Permission

    from apps.payments.roles import ROLE_PERMISSIONS

    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture
def operator(staff_user, payment_roles):
    return staff_user("operator")


@pytest.fixture
def support(staff_user, payment_roles):
    return staff_user("support")


@pytest.fixture
def compliance(staff_user, payment_roles):
    return staff_user("compliance")
