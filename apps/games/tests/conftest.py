"""Fixtures for the games tests: the in-house catalog, sandbox providers whose side the tests play, signed calls."""

from __future__ import annotations

import json
import secrets
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.core.money import Money
from apps.games import crypto
from apps.games.models import GameKind, Provider, Volatility
from apps.games.seed import default_stake_limits
from apps.games.services import game_register, provider_key_set


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.fixture
def house_games(db):
    limits = default_stake_limits()
    games = {}
    catalog = (("dice", GameKind.DICE, "99.00"), ("roulette", GameKind.ROULETTE, "97.30"), ("fruit-slot", GameKind.SLOTS, "96.00"))
    for slug, kind, rtp in catalog:
        games[slug] = game_register(slug=slug, name=slug.title(), kind=kind, rtp=Decimal(rtp), stake_limits=limits)[0]
    return games


class GenericProvider:
    """Plays the provider's side of the generic protocol: signs each body with the shared secret."""

    def __init__(self, provider: Provider, secret: str, game):
        self.provider, self.secret, self.game = provider, secret, game
        self.client = APIClient()

    def call(self, operation: str, body: dict, *, signature: str | None = None):
        raw = json.dumps(body).encode()
        sig = crypto.hmac_hex(self.secret, raw) if signature is None else signature
        return self.client.post(f"/api/v1/providers/{self.provider.code}/{operation}", raw, content_type="application/json",
                                HTTP_X_SIGNATURE=sig)


class CaletaProvider:
    """Plays the aggregator's side of the Caleta family: signs each raw body with its RSA private key."""

    def __init__(self, provider: Provider, private_pem: str, game):
        self.provider, self.private_pem, self.game = provider, private_pem, game
        self.client = APIClient()

    def call(self, operation: str, body: dict, *, signature: str | None = None, raw: bytes | None = None):
        raw = json.dumps(body).encode() if raw is None else raw
        sig = crypto.rsa_sign(self.private_pem, raw) if signature is None else signature
        return self.client.post(f"/api/v1/providers/caleta/wallet/{operation}", raw, content_type="application/json",
                                HTTP_X_AUTH_SIGNATURE=sig)


@pytest.fixture
def generic_provider(db):
    secret = secrets.token_urlsafe(40)
    provider, _ = provider_key_set(code="acme", secret=secret)
    Provider.objects.filter(pk=provider.pk).update(currencies=["EUR", "JPY"])
    provider.refresh_from_db()
    game = game_register(slug="acme-slot", name="Acme slot", kind=GameKind.SLOTS, rtp=Decimal("96.00"), stake_limits=default_stake_limits(),
                         provider=provider, provider_game_code="acme_slot", volatility=Volatility.HIGH)[0]
    return GenericProvider(provider, secret, game)


@pytest.fixture(scope="session")
def caleta_keys():
    return crypto.rsa_keypair()


@pytest.fixture
def caleta_provider(db, caleta_keys):
    private_pem, public_pem = caleta_keys
    provider, _ = provider_key_set(code="caleta", public_key_pem=public_pem)
    Provider.objects.filter(pk=provider.pk).update(currencies=["EUR", "JPY"])
    provider.refresh_from_db()
    game = game_register(slug="clt-fruits", name="Fruits", kind=GameKind.SLOTS, rtp=Decimal("96.00"), stake_limits=default_stake_limits(),
                         provider=provider, provider_game_code="clt_fruits")[0]
    return CaletaProvider(provider, private_pem, game)


@pytest.fixture
def approve(private_media, staff_user):
    """A real KYC approval through the kyc services (upload, submit, review, approve)."""
    from apps.kyc import services as kyc
    from apps.kyc.models import KycCase
    from apps.kyc.tests.samples import PDF_BYTES, a_file, valid_until

    officer = staff_user("compliance")

    def do(player):
        kyc.kyc_document_upload(player=player, kind="passport", uploaded_file=a_file(PDF_BYTES, "p.pdf", "application/pdf"),
                                expires_on=valid_until())
        kyc.kyc_submit(player=player)
        case = kyc.kyc_start_review(case=KycCase.objects.get(player=player), officer=officer)
        kyc.kyc_approve(case=case, officer=officer, note="")
        return player

    return do
