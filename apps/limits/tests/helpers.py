"""Helpers the responsible-gaming tests share: money in EUR and the money calls that pass the protection check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction

from apps.core.money import Money

START = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def deposit(player, amount: str, *, key: str | None = None):
    """Stands in for apps.payments.services.deposit_create until it lands: the check and the posting in one transaction."""
    from apps.ledger.services import deposit_post
    from apps.limits.services import protection_check

    money = Money(Decimal(amount), player.currency)
    with transaction.atomic():
        protection_check(player=player, action="deposit", amount=money)
        return deposit_post(player=player, amount=money, idempotency_key=key or f"rg-test-deposit:{uuid.uuid4()}", reference="test-deposit")


def stake(player, amount: str, *, key: str | None = None):
    from apps.games.services import stake_place

    money = Money(Decimal(amount), player.currency)
    return stake_place(player=player, amount=money, idempotency_key=key or f"rg-test-bet:{uuid.uuid4()}", reference="round:test")


def win(player, amount: str):
    from apps.ledger.services import win_post

    money = Money(Decimal(amount), player.currency)
    return win_post(player=player, amount=money, idempotency_key=f"rg-test-win:{uuid.uuid4()}", reference="round:test")


def rollback(player, amount: str):
    from apps.ledger.services import rollback_post

    money = Money(Decimal(amount), player.currency)
    return rollback_post(player=player, amount=money, idempotency_key=f"rg-test-rollback:{uuid.uuid4()}", reference="round:test")
