"""Fixtures for the players app's tests."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.test import APIClient

_n = itertools.count(1)


@pytest.fixture
def registration():
    """A valid registration body with a fresh email each time."""

    def make(**overrides):
        body = {
            "email": f"new-player-{next(_n)}@example.com",
            "password": "A-strong-passphrase-42",
            "first_name": "Grace",
            "last_name": "Hopper",
            "date_of_birth": "1990-05-17",
            "country": "DE",
            "currency": "EUR",
        }
        body.update(overrides)
        return body

    return make


@pytest.fixture
def login(api_client):
    """POST /auth/token with an email and password; returns the response."""

    def attempt(email: str, password: str = "A-strong-passphrase-42", client: APIClient | None = None):
        return (client or api_client).post("/api/v1/auth/token", {"email": email, "password": password}, format="json")

    return attempt


@pytest.fixture
def tokens(login):
    """A real token pair for a player, obtained through the login endpoint."""

    def obtain(player) -> dict:
        response = login(player.user.email)
        assert response.status_code == 200, response.content
        return response.json()

    return obtain
