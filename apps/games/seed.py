"""Demo catalog for `seed_demo`: the in-house games and a sandbox provider of each wallet protocol.

Idempotent: an existing game or provider (maybe edited by an operator since) is left as it is. The
sandbox keys are generated here and stored as production keys are (the HMAC secret encrypted, the RSA
public key only; the private half is thrown away), so nobody can sign as a sandbox provider until an
integrator registers their own key with `manage.py provider_key` (README, "Games").
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.db import transaction

from apps.core.money import MINOR_UNITS

from . import crypto
from .models import GameKind, Provider, ProviderProtocol, Volatility
from .services import game_register, provider_key_set

SANDBOX_CURRENCIES = ["EUR", "USD", "GBP", "SEK", "NOK", "DKK", "CHF", "CAD", "PLN", "JPY"]


def default_stake_limits() -> dict[str, dict[str, int]]:
    """0.10 to 100.00 in two-decimal currencies, 10 to 10,000 in zero-decimal ones, 0.100 to 100.000 in three."""
    limits = {}
    for currency, places in MINOR_UNITS.items():
        unit = 10**places
        limits[currency] = {"min": max(unit // 10, 10) if places else 10, "max": 100 * unit if places else 10_000}
    return limits


HOUSE_GAMES = [
    ("dice", "Dice", GameKind.DICE, Decimal("99.00"), Volatility.LOW),
    ("roulette", "European Roulette", GameKind.ROULETTE, Decimal("97.30"), Volatility.MEDIUM),
    ("fruit-slot", "Fruit Slot (3 reels)", GameKind.SLOTS, Decimal("96.00"), Volatility.HIGH),
]

SANDBOX_PROVIDERS = [
    ("sandbox-generic", "Sandbox provider (generic protocol)", ProviderProtocol.GENERIC, [
        ("sandbox-book-of-gold", "Book of Gold (sandbox)", GameKind.SLOTS, "sbx_book_of_gold", Volatility.HIGH),
        ("sandbox-blackjack", "Blackjack (sandbox)", GameKind.TABLE, "sbx_blackjack", Volatility.LOW),
    ]),
    ("caleta", "Sandbox aggregator (Caleta family)", ProviderProtocol.CALETA, [
        ("caleta-fruit-party", "Fruit Party (sandbox)", GameKind.SLOTS, "clt_fruit_party", Volatility.MEDIUM),
        ("caleta-rocket-crash", "Rocket Crash (sandbox)", GameKind.CRASH, "clt_rocket_crash", Volatility.HIGH),
    ]),
]


@transaction.atomic
def seed_demo_games() -> str:
    """Register the demo catalog; returns a one-line summary for the seed command's report."""
    limits = default_stake_limits()
    added = 0
    for slug, name, kind, rtp, volatility in HOUSE_GAMES:
        added += game_register(slug=slug, name=name, kind=kind, rtp=rtp, volatility=volatility, stake_limits=limits)[1]
    providers_added = 0
    for code, name, protocol, games in SANDBOX_PROVIDERS:
        provider = Provider.objects.filter(code=code).first()
        if provider is None:
            if protocol == ProviderProtocol.GENERIC:
                provider, _ = provider_key_set(code=code, secret=secrets.token_urlsafe(48))
            else:
                provider, _ = provider_key_set(code=code, public_key_pem=crypto.rsa_keypair()[1])
            Provider.objects.filter(pk=provider.pk).update(name=name, currencies=SANDBOX_CURRENCIES)
            providers_added += 1
        for slug, game_name, kind, game_code, volatility in games:
            added += game_register(
                slug=slug, name=game_name, kind=kind, rtp=Decimal("96.00"), volatility=volatility, stake_limits=limits,
                provider=provider, provider_game_code=game_code,
            )[1]
    total = len(HOUSE_GAMES) + sum(len(games) for *_, games in SANDBOX_PROVIDERS)
    return (
        f"{total} games ({len(HOUSE_GAMES)} in-house, provably fair), {len(SANDBOX_PROVIDERS)} sandbox providers "
        f"(generic, caleta); {added} games and {providers_added} providers new this run"
    )
