"""Payments fixtures: KYC stand-in and staff roles."""

from __future__ import annotations

import pytest


@pytest.fixture
def kyc_approved(monkeypatch):
    """Every player counts as KYC-approved (the KYC app is stood in for, through its module)."""
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


@pytest.fixture
def payment_roles(synced_roles):
    """The staff groups with every app's permissions (kept as a name for the tests that ask for it)."""


@pytest.fixture
def operator(staff_user, payment_roles):
    return staff_user("operator")


@pytest.fixture
def support(staff_user, payment_roles):
    return staff_user("support")


@pytest.fixture
def compliance(staff_user, payment_roles):
    return staff_user("compliance")
