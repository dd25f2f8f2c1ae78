"""The dashboard's figures against ledger postings made through the real services, and who sees which block."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from apps.backoffice import selectors
from apps.backoffice.navigation import sidebar
from apps.core.money import Money
from apps.games.models import GameKind
from apps.games.seed import default_stake_limits
from apps.games.services import game_register
from apps.ledger import services as ledger_services
from apps.payments import services as payments_services
from tests.factories import DepositFactory, PlayerFactory

pytestmark = pytest.mark.django_db


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.fixture(autouse=True)
def kyc_approved(monkeypatch):
    """Withdrawals need approved KYC; the KYC app is stood in for, as the payments tests do."""
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


@pytest.fixture
def dice(db):
    return game_register(slug="dice", name="Dice", kind=GameKind.DICE, rtp=Decimal("99.00"), stake_limits=default_stake_limits())[0]


def _play(player, game, *, stake: str, win: str, key: str) -> None:
    meta = {"game": game.slug}
    ledger_services.bet_post(player=player, amount=eur(stake), idempotency_key=f"{key}:bet", reference=f"round:{key}", metadata=meta)
    if Decimal(win):
        ledger_services.win_post(player=player, amount=eur(win), idempotency_key=f"{key}:win", reference=f"round:{key}", metadata=meta)


def _by_currency(figures, currency: str):
    return next(f for f in figures if f.currency == currency)


def test_money_figures_are_the_ledgers_per_window_and_currency(dice, staff_user):
    operator = staff_user("operator")
    old_player = PlayerFactory()
    with time_machine.travel(selectors.clock.now() - timedelta(days=3), tick=False):
        DepositFactory(player=old_player, amount="40.00")  # an FTD three days ago: in the 30 days, not today
    anna, ben = PlayerFactory(), PlayerFactory()
    DepositFactory(player=anna, amount="100.00")
    DepositFactory(player=anna, amount="20.50")  # a second deposit is not a second FTD
    DepositFactory(player=ben, amount="30.00")
    DepositFactory(player=old_player, amount="5.00")  # deposits today, but its first deposit was earlier
    DepositFactory(player=PlayerFactory(currency="GBP", country="DE"), amount="7.00")
    _play(anna, dice, stake="10.00", win="4.00", key="a1")
    _play(ben, dice, stake="2.00", win="0", key="b1")
    withdrawal = payments_services.withdrawal_request(player=anna, amount=eur("50.00"), idempotency_key="w1")
    payments_services.withdrawal_approve(withdrawal=withdrawal, actor=operator)
    payments_services.withdrawal_mark_paid(withdrawal=withdrawal, actor=operator)

    today, month = selectors.windows()
    day = _by_currency(selectors.money_figures(start=today.start, end=today.end), "EUR")
    assert day.deposits == eur("155.50") and day.deposit_count == 4
    assert day.withdrawals == eur("50.00") and day.withdrawal_count == 1
    assert day.first_time_depositors == 2
    assert day.ggr == eur("8.00")  # stakes 12.00 − payouts 4.00
    assert day.bonus_cost == eur("0.00") and day.ngr == eur("8.00")
    assert day.active_players == 2
    gbp = _by_currency(selectors.money_figures(start=today.start, end=today.end), "GBP")
    assert gbp.deposits == Money(Decimal("7.00"), "GBP") and gbp.first_time_depositors == 1

    thirty = _by_currency(selectors.money_figures(start=month.start, end=month.end), "EUR")
    assert thirty.deposits == eur("195.50") and thirty.first_time_depositors == 3


def test_rtp_per_game_is_payouts_over_stakes_next_to_the_target(dice):
    player = PlayerFactory()
    DepositFactory(player=player, amount="100.00")
    _play(player, dice, stake="10.00", win="9.00", key="r1")
    _play(player, dice, stake="10.00", win="0", key="r2")
    _, month = selectors.windows()
    [row] = selectors.rtp_by_game(start=month.start, end=month.end)
    assert (row.slug, row.currency, row.rounds) == ("dice", "EUR", 2)
    assert row.stakes == eur("20.00") and row.payouts == eur("9.00")
    assert row.actual == Decimal("45.00") and row.target == Decimal("99.00")


def test_stakes_on_a_game_outside_the_catalog_show_without_a_target(dice):
    player = PlayerFactory()
    DepositFactory(player=player, amount="50.00")
    ledger_services.bet_post(player=player, amount=eur("4.00"), idempotency_key="x:bet", reference="round:x", metadata={"game": "old-slot"})
    _, month = selectors.windows()
    [row] = selectors.rtp_by_game(start=month.start, end=month.end)
    assert (row.slug, row.target, row.actual, row.stakes) == ("old-slot", None, Decimal("0.00"), eur("4.00"))


def test_queue_figures_count_what_waits_oldest_first(staff_user):
    operator = staff_user("operator")
    first, second = PlayerFactory(), PlayerFactory()
    DepositFactory(player=first, amount="100.00")
    DepositFactory(player=second, amount="100.00")
    start = selectors.clock.now() - timedelta(hours=5)
    with time_machine.travel(start, tick=False):
        payments_services.withdrawal_request(player=first, amount=eur("10.00"), idempotency_key="q1")
    payments_services.withdrawal_request(player=second, amount=eur("10.00"), idempotency_key="q2")
    approved = payments_services.withdrawal_request(player=second, amount=eur("5.00"), idempotency_key="q3")
    payments_services.withdrawal_approve(withdrawal=approved, actor=operator)  # approved: no longer awaiting approval

    queues = selectors.queue_figures()
    assert queues.withdrawals_waiting == 2
    assert queues.oldest_withdrawal_since == start
    assert queues.kyc_open == 0
    assert set(queues.aml_open_by_level) == {"critical", "high", "medium", "low"}


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _titles(navigation) -> set[str]:
    return {item["title"] for group in navigation for item in group["items"]}


def test_the_sidebar_lists_only_what_each_role_may_open_with_queue_badges(staff_user):
    player = PlayerFactory()
    DepositFactory(player=player, amount="100.00")
    payments_services.withdrawal_request(player=player, amount=eur("10.00"), idempotency_key="n1")

    support = _titles(sidebar(_request(staff_user("support"))))
    assert {"Players", "Withdrawals", "KYC cases"} <= support
    assert not support & {"AML alerts", "Ledger transactions", "Periodic tasks", "Regulatory report runs", "Staff and logins"}

    compliance_nav = sidebar(_request(staff_user("compliance")))
    assert {"AML alerts", "Regulatory report runs", "Periodic tasks", "KYC cases"} <= _titles(compliance_nav)
    operator_nav = sidebar(_request(staff_user("operator")))
    assert "AML alerts" not in _titles(operator_nav)  # EU AMLD art. 39: no tipping-off circle wider than compliance
    withdrawals = next(item for group in operator_nav for item in group["items"] if item["title"] == "Withdrawals")
    assert withdrawals["badge"] == 1
    assert withdrawals["link"] == reverse("admin:payments_withdrawal_changelist")


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("operator", ['data-figure="deposits"', 'data-figure="withdrawals-waiting"', 'id="dashboard-rtp"'], ['data-figure="aml-open"']),
        ("compliance", ['data-figure="deposits"', 'data-figure="aml-open"', 'data-figure="kyc-open"'], []),
        (
            "support",
            ['data-figure="withdrawals-waiting"', 'data-figure="kyc-open"'],
            ['data-figure="deposits"', 'data-figure="aml-open"', 'id="dashboard-rtp"'],
        ),
    ],
)
def test_the_dashboard_shows_each_role_only_its_blocks(client, staff_user, role, shown, hidden):
    DepositFactory(player=PlayerFactory(), amount="12.34")
    client.force_login(staff_user(role))
    body = client.get(reverse("admin:index")).content.decode()
    for marker in shown:
        assert marker in body, (role, marker)
    for marker in hidden:
        assert marker not in body, (role, marker)
    if "deposits" in "".join(shown):
        assert "12.34" in body


def test_open_aml_alerts_by_level_follow_the_monitoring_and_the_officers_decisions(staff_user):
    """Alerts raised by the real sweep over real postings; a dismissed alert leaves the count, an investigated one stays."""
    from datetime import UTC, datetime
    from importlib import import_module

    from apps.aml import services as aml_services
    from apps.aml.models import AmlAlert, AmlRule

    # The rules as migration 0002 ships them (a transactional test elsewhere may have emptied the table).
    for rule in import_module("apps.aml.migrations.0002_default_rules_and_schedules").RULES:
        AmlRule.objects.get_or_create(kind=rule["kind"], defaults=rule)
    t0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    medium, critical = PlayerFactory(), PlayerFactory()

    def deposit(player, amount: str, minute: int) -> None:
        with time_machine.travel(t0 + timedelta(minutes=minute), tick=False):
            ledger_services.deposit_post(player=player, amount=eur(amount), idempotency_key=f"aml:{player.pk}:{minute}",
                                         reference="test:deposit")

    for minute in range(5):
        deposit(medium, "10.00", minute)  # velocity: medium
    for minute in range(1, 5):
        deposit(critical, "10.00", minute)
    deposit(critical, "6000.00", 6)  # velocity and a large deposit: critical
    with time_machine.travel(t0 + timedelta(hours=1), tick=False):
        aml_services.monitoring_sweep()
    before = selectors.open_aml_alerts_by_level()
    assert before["critical"] == 1 and before["medium"] == 1 and sum(before.values()) == 2

    officer = staff_user("compliance")
    alert = AmlAlert.objects.get(player=medium)
    aml_services.alert_transition(alert_id=alert.pk, actor=officer, action="investigate", note="statements requested")
    assert selectors.open_aml_alerts_by_level() == before  # investigating is still open work
    aml_services.alert_transition(alert_id=alert.pk, actor=officer, action="dismiss", note="salary, documented")
    after = selectors.open_aml_alerts_by_level()
    assert after["medium"] == 0 and after["critical"] == 1
