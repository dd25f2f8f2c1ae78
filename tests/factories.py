"""factory_boy factories whose objects are made through the real services, never by writing rows by hand.

A factory that saved models directly would build states the services never produce (a player with no
protection row, a deposit with no ledger posting); going through the services keeps tests honest.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import factory

_numbers = itertools.count(1)


class PlayerFactory(factory.Factory):
    """A registered player, through players.services.player_register (its validation, its history)."""

    class Meta:
        model = dict  # the attributes; _create hands them to the service

    email = factory.LazyFunction(lambda: f"player{next(_numbers)}@example.com")
    password = "A-strong-passphrase-42"
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Player{n}")
    date_of_birth = date(1990, 1, 1)
    country = "DE"
    currency = "EUR"

    @classmethod
    def _create(cls, model_class, **kwargs):
        from apps.players.services import player_register

        return player_register(**kwargs)


class DepositFactory(factory.Factory):
    """A completed sandbox deposit, through payments.services.deposit_create (protection check and ledger posting)."""

    class Meta:
        model = dict

    player = factory.SubFactory(PlayerFactory)
    amount = "100.00"
    method = "sandbox"
    idempotency_key = factory.LazyFunction(lambda: f"factory-deposit-{next(_numbers)}")

    @classmethod
    def _create(cls, model_class, *, player, amount, **kwargs):
        from apps.core.money import Money
        from apps.payments.services import deposit_create

        return deposit_create(player=player, amount=Money(Decimal(amount), player.currency), **kwargs)
