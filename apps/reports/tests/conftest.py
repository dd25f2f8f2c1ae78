"""A seeded reporting world: two days in Madrid with every kind of movement, through the real services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from apps.core.money import Money

MADRID = ZoneInfo("Europe/Madrid")
DAY1 = date(2026, 11, 10)
DAY2 = date(2026, 11, 11)
_keys = itertools.count(1)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MADRID)


def key(prefix: str = "r") -> str:
    return f"{prefix}-{next(_keys)}"


@dataclass
class World:
    alice: object
    bruno: object
    officer: object
    compliance: object
    notes: dict = field(default_factory=dict)


def _spanish(make_player, *, email: str, first: str, last: str, dni: str, sex: str):
    from apps.players.models import Player

    player = make_player(email=email, first_name=first, last_name=last, country="ES", date_of_birth=date(1985, 3, 14))
    Player.objects.filter(pk=player.pk).update(
        nationality="ES",
        sex=sex,
        second_surname="García",
        address_street="Calle Mayor 1",
        address_city="Madrid",
        address_postcode="28013",
        address_country="ES",
        phone="+34600111222",
        phone_verified=True,
        email_verified=True,
        id_document_type="ID",
        id_document_number=dni,
        signup_ip="192.0.2.10",
        signup_device="MO",
        device_id="dev-1",
    )
    player.refresh_from_db()
    return player


@pytest.fixture
def compliance_user(staff_user):
    from apps.core.role_sync import sync_role_permissions

    sync_role_permissions()
    return staff_user("compliance")


@pytest.fixture
def world(db, make_player, staff_user, compliance_user, private_media, monkeypatch) -> World:
    """Day 1: deposits (one refused by the PSP), stakes on two games, a win, a rollback, an adjustment,
    a withdrawal cancelled by the player and one paid; a second player self-excludes. Day 2: more play,
    a deposit just after local midnight (still day 1 in UTC), a withdrawal rejected by the operator."""
    from apps.games.services import stake_place
    from apps.kyc import selectors as kyc_selectors
    from apps.ledger.services import adjustment_post, rollback_post, win_post
    from apps.limits.services import limit_set, self_exclusion_start
    from apps.payments import services as payments
    from apps.players.services import player_mark_activated

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)
    officer = staff_user(superuser=True)

    with time_machine.travel(at(DAY1, 9), tick=False) as clock:
        alice = _spanish(make_player, email="alice@example.es", first="Alicia", last="López", dni="12345678Z", sex="F")
        bruno = _spanish(make_player, email="bruno@example.es", first="Bruno", last="Ruiz", dni="X1234567L", sex="M")
        alice = player_mark_activated(player=alice)
        limit_set(player=alice, kind="deposit", period="day", amount=eur("500.00"))
        limit_set(player=alice, kind="loss", period="week", amount=eur("200.00"))

        clock.move_to(at(DAY1, 10))
        first = payments.deposit_create(
            player=alice, amount=eur("100.00"), method="sandbox_async", idempotency_key=key(), ip_address="192.0.2.11", device="MO"
        )
        payments.deposit_complete(deposit_id=first.pk, card_last4="4242", holder_verified=True)
        payments.deposit_create(player=bruno, amount=eur("200.00"), method="sandbox", idempotency_key=key())
        refused = payments.deposit_create(player=alice, amount=eur("30.00"), method="sandbox_async", idempotency_key=key())
        payments.deposit_fail(deposit_id=refused.pk, reason="card declined")

        clock.move_to(at(DAY1, 11))
        roulette = {"game": "roulette-eu", "game_type": "RLT"}
        stake_place(player=alice, amount=eur("20.00"), idempotency_key=key(), reference="round:1", metadata=roulette)
        win_post(player=alice, amount=eur("35.00"), idempotency_key=key(), reference="round:1", metadata=roulette)
        stake_place(player=alice, amount=eur("10.00"), idempotency_key=key(), reference="round:2", metadata={"game": "starburst"})
        rollback_post(player=alice, amount=eur("10.00"), idempotency_key=key(), reference="round:2", metadata={"game": "starburst"})
        stake_place(player=bruno, amount=eur("100.00"), idempotency_key=key(), reference="round:3", metadata=roulette)
        adjustment_post(player=alice, amount_minor=500, actor=officer, reason="goodwill", idempotency_key=key())

        clock.move_to(at(DAY1, 12))
        cancelled = payments.withdrawal_request(player=alice, amount=eur("40.00"), idempotency_key=key())
        payments.withdrawal_cancel(player=alice, withdrawal_id=cancelled.pk)
        paid = payments.withdrawal_request(player=alice, amount=eur("25.00"), idempotency_key=key())
        paid = payments.withdrawal_approve(withdrawal=paid, actor=officer)
        payments.withdrawal_mark_paid(withdrawal=paid, actor=officer)
        self_exclusion_start(player=bruno, months=6)

        # 00:30 in Madrid on day 2 is 23:30 UTC on day 1: it belongs to day 2 in the regulator's calendar.
        clock.move_to(at(DAY2, 0, 30))
        payments.deposit_create(player=alice, amount=eur("50.00"), method="sandbox", idempotency_key=key())
        clock.move_to(at(DAY2, 15))
        stake_place(player=alice, amount=eur("15.00"), idempotency_key=key(), reference="round:4", metadata={"game": "starburst"})
        rejected = payments.withdrawal_request(player=alice, amount=eur("10.00"), idempotency_key=key())
        payments.withdrawal_reject(withdrawal=rejected, actor=officer, reason="PSP refused the payout")

    alice.refresh_from_db()
    bruno.refresh_from_db()
    return World(alice=alice, bruno=bruno, officer=officer, compliance=compliance_user)


def run_report(code: str, period: str, **kwargs):
    from apps.reports.services import report_run_execute, report_run_request

    run = report_run_request(report_type=code, period=period, enqueue=False, **kwargs)
    return report_run_execute(run_id=run.pk)
