"""The admin and the API lock an email out on the same attempt: after 5 failures, the 6th is refused (README)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "Staff-passphrase-42"


def _admin_login(client: Client, email: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": password})


def test_the_admin_refuses_the_sixth_attempt_not_the_fifth(staff_user):
    staff = staff_user(superuser=True)
    client = Client()
    failures = [_admin_login(client, staff.email, "wrong-password-x").status_code for _ in range(5)]
    # Django's admin answers a failed login with the form again (200), not a lock-out.
    assert failures == [200] * 5
    sixth = _admin_login(client, staff.email, STAFF_PASSWORD)
    assert sixth.status_code == 429 and int(sixth["Retry-After"]) > 0


def test_the_admin_logs_in_after_four_failures(staff_user):
    staff = staff_user(superuser=True)
    client = Client()
    for _ in range(4):
        _admin_login(client, staff.email, "wrong-password-x")
    assert _admin_login(client, staff.email, STAFF_PASSWORD).status_code == 302


def test_the_api_refuses_the_sixth_attempt_not_the_fifth(make_player):
    player = make_player()
    client = APIClient()
    body = {"email": player.user.email, "password": "wrong-password-x"}
    failures = [client.post("/api/v1/auth/token", body, format="json").status_code for _ in range(5)]
    assert failures == [401] * 5
    sixth = client.post("/api/v1/auth/token", {**body, "password": "A-strong-passphrase-42"}, format="json")
    assert sixth.status_code == 429
