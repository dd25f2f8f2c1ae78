"""Deposit, loss and wager limits: cooling-off, rolling windows, lowest-wins, and refusals through the real money calls."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.core import clock
from apps.core.errors import LimitExceeded, NotFound, SelfExcluded, ValidationFailed
from apps.ledger.models import LedgerTransaction
from apps.ledger.selectors import wallet_balances
from apps.limits import services
from apps.limits.models import Limit, PlayerProtection
from apps.limits.selectors import limit_usage_minor, protection_overview
from apps.limits.tasks import activate_pending_limits

from .helpers import START, deposit, eur, rollback, stake, win

pytestmark = pytest.mark.django_db


def set_limit(player, kind, period, amount):
    return services.limit_set(player=player, kind=kind, period=period, amount=eur(amount))


# --- Cooling-off (UKGC RTS 12) ---


def test_new_limit_applies_at_once(player, clock_at):
    limit = set_limit(player, "deposit", "day", "50.00")
    assert limit.amount_minor == 5000 and limit.pending_from is None and limit.activated_at == START
    deposit(player, "50.00")
    with pytest.raises(LimitExceeded):
        deposit(player, "0.01")


def test_raise_waits_24_hours(player, clock_at):
    set_limit(player, "deposit", "week", "50.00")
    deposit(player, "50.00")
    limit = set_limit(player, "deposit", "week", "100.00")
    assert limit.amount_minor == 5000
    assert limit.pending_amount_minor == 10000
    assert limit.pending_from == clock.now() + timedelta(hours=24)

    clock_at.shift(timedelta(hours=23, minutes=59))
    with pytest.raises(LimitExceeded) as refused:
        deposit(player, "10.00")
    assert refused.value.details["limit"] == "50.00"

    clock_at.shift(timedelta(minutes=1))
    deposit(player, "10.00")  # in force once the cooling-off has passed
    limit.refresh_from_db()
    assert limit.amount_minor == 5000, "protection_check only reads; the task stores the change"
    assert services.limit_activate_due() == 1
    limit.refresh_from_db()
    assert limit.amount_minor == 10000 and limit.pending_from is None
    # It took effect when the cooling-off ended, not when we noticed.
    assert limit.activated_at == limit.requested_at + timedelta(hours=24)


def test_decrease_applies_at_once_and_cancels_a_pending_raise(player, clock_at):
    set_limit(player, "deposit", "day", "50.00")
    set_limit(player, "deposit", "day", "80.00")
    limit = set_limit(player, "deposit", "day", "20.00")
    assert (limit.amount_minor, limit.pending_amount_minor, limit.pending_from) == (2000, None, None)
    deposit(player, "20.00")
    with pytest.raises(LimitExceeded):
        deposit(player, "0.01")


def test_same_amount_again_cancels_a_pending_raise(player, clock_at):
    set_limit(player, "deposit", "day", "50.00")
    set_limit(player, "deposit", "day", "80.00")
    limit = set_limit(player, "deposit", "day", "50.00")
    assert limit.pending_amount_minor is None and limit.pending_from is None
    clock_at.shift(timedelta(hours=25))
    limit.refresh_from_db()
    assert limit.amount_minor == 5000


def test_asking_for_the_same_raise_again_does_not_restart_the_clock(player, clock_at):
    set_limit(player, "deposit", "day", "50.00")
    first = set_limit(player, "deposit", "day", "80.00").pending_from
    clock_at.shift(timedelta(hours=5))
    assert set_limit(player, "deposit", "day", "80.00").pending_from == first
    # A different raise is a new request: its own 24 hours.
    assert set_limit(player, "deposit", "day", "90.00").pending_from == clock.now() + timedelta(hours=24)


def test_removal_waits_24_hours(player, clock_at):
    set_limit(player, "deposit", "day", "10.00")
    limit = services.limit_remove(player=player, kind="deposit", period="day")
    assert limit.pending_removal and limit.amount_minor == 1000
    clock_at.shift(timedelta(hours=23, minutes=59))
    with pytest.raises(LimitExceeded):
        deposit(player, "10.01")
    clock_at.shift(timedelta(minutes=1))
    deposit(player, "500.00")
    assert services.limit_activate_due() == 1
    limit.refresh_from_db()
    assert limit.amount_minor is None and not limit.pending_removal
    # The row stays for its history and the regulator's change times.
    assert limit.history.count() >= 3


def test_removing_a_limit_that_is_not_there_is_not_found(player):
    with pytest.raises(NotFound):
        services.limit_remove(player=player, kind="loss", period="week")


def test_a_cut_cancels_a_pending_removal(player, clock_at):
    set_limit(player, "deposit", "day", "10.00")
    services.limit_remove(player=player, kind="deposit", period="day")
    limit = set_limit(player, "deposit", "day", "5.00")
    assert not limit.pending_removal and limit.amount_minor == 500
    clock_at.shift(timedelta(days=2))
    with pytest.raises(LimitExceeded):
        deposit(player, "5.01")


def test_periodic_task_activates_due_changes_and_is_idempotent(player, make_player, clock_at):
    other = make_player()
    set_limit(player, "deposit", "day", "10.00")
    set_limit(player, "deposit", "day", "30.00")
    set_limit(other, "wager", "week", "10.00")
    services.limit_remove(player=other, kind="wager", period="week")
    assert activate_pending_limits.delay().get() == 0
    clock_at.shift(timedelta(hours=24))
    assert activate_pending_limits.delay().get() == 2
    assert activate_pending_limits.delay().get() == 0
    assert Limit.objects.get(player=player).amount_minor == 3000
    assert Limit.objects.get(player=other).amount_minor is None


def test_limit_amount_must_be_positive_in_the_wallet_currency(player):
    from decimal import Decimal

    from apps.core.money import Money

    with pytest.raises(ValidationFailed):
        services.limit_set(player=player, kind="deposit", period="day", amount=Money(Decimal("10.00"), "USD"))
    with pytest.raises(ValidationFailed):
        services.limit_set(player=player, kind="deposit", period="day", amount=eur("0.00"))
    with pytest.raises(ValidationFailed):
        services.limit_set(player=player, kind="time", period="day", amount=eur("1.00"))
    with pytest.raises(ValidationFailed):
        services.limit_set(player=player, kind="deposit", period="year", amount=eur("1.00"))
    assert not Limit.objects.exists()


# --- Which limit binds, and what counts ---


def test_lowest_applicable_limit_wins(player, clock_at):
    set_limit(player, "deposit", "day", "50.00")
    set_limit(player, "deposit", "week", "30.00")
    deposit(player, "30.00")
    with pytest.raises(LimitExceeded) as refused:
        deposit(player, "0.01")
    assert refused.value.details == {"kind": "deposit", "period": "week", "limit": "30.00", "used": "30.00", "remaining": "0.00"}


def test_refusal_names_the_limit_with_least_room(player, clock_at):
    set_limit(player, "deposit", "week", "100.00")
    deposit(player, "70.00")
    clock_at.shift(timedelta(days=2))
    set_limit(player, "deposit", "day", "40.00")
    # Day: 40 left; week: 30 left. A 35 deposit fails on the week.
    with pytest.raises(LimitExceeded) as refused:
        deposit(player, "35.00")
    assert refused.value.details["period"] == "week" and refused.value.details["remaining"] == "30.00"


def test_deposit_usage_is_a_rolling_window(player, clock_at):
    set_limit(player, "deposit", "day", "50.00")
    deposit(player, "40.00")
    clock_at.shift(timedelta(hours=12))
    deposit(player, "10.00")
    clock_at.shift(timedelta(hours=11, minutes=59))
    # Midnight has passed, but the first 40 is still inside the last 24 hours.
    with pytest.raises(LimitExceeded):
        deposit(player, "1.00")
    clock_at.shift(timedelta(minutes=1))
    deposit(player, "40.00")
    assert limit_usage_minor(player=player, kind="deposit", period="day") == 5000


def test_week_and_month_windows_are_7_and_30_days(player, clock_at):
    deposit(player, "20.00")
    clock_at.shift(timedelta(days=7) - timedelta(seconds=1))
    assert limit_usage_minor(player=player, kind="deposit", period="week") == 2000
    clock_at.shift(timedelta(seconds=1))
    assert limit_usage_minor(player=player, kind="deposit", period="week") == 0
    assert limit_usage_minor(player=player, kind="deposit", period="month") == 2000
    clock_at.shift(timedelta(days=23))
    assert limit_usage_minor(player=player, kind="deposit", period="month") == 0


def test_wager_counts_stakes_and_rollbacks_give_them_back(player, fund, clock_at):
    fund(player, "100.00")
    set_limit(player, "wager", "day", "30.00")
    stake(player, "10.00")
    win(player, "50.00")  # wins do not reduce turnover
    stake(player, "10.00")
    rollback(player, "10.00")  # the cancelled stake no longer counts
    assert limit_usage_minor(player=player, kind="wager", period="day") == 1000
    stake(player, "20.00")
    with pytest.raises(LimitExceeded) as refused:
        stake(player, "0.01")
    assert refused.value.details["kind"] == "wager"


def test_loss_is_net_of_wins_and_never_negative(player, fund, clock_at):
    fund(player, "100.00")
    set_limit(player, "loss", "day", "20.00")
    stake(player, "10.00")
    win(player, "25.00")
    assert limit_usage_minor(player=player, kind="loss", period="day") == 0  # ahead by 15: no loss
    stake(player, "20.00")
    stake(player, "15.00")
    assert limit_usage_minor(player=player, kind="loss", period="day") == 2000  # 45 staked − 25 won
    with pytest.raises(LimitExceeded) as refused:
        stake(player, "0.01")
    assert refused.value.details == {"kind": "loss", "period": "day", "limit": "20.00", "used": "20.00", "remaining": "0.00"}


def test_loss_limit_allows_a_stake_that_could_at_most_reach_it(player, fund, clock_at):
    fund(player, "100.00")
    set_limit(player, "loss", "day", "20.00")
    stake(player, "15.00")
    with pytest.raises(LimitExceeded):
        stake(player, "5.01")
    stake(player, "5.00")


def test_refused_stake_posts_nothing(player, fund, clock_at):
    fund(player, "100.00")
    set_limit(player, "wager", "day", "5.00")
    before = LedgerTransaction.objects.count()
    with pytest.raises(LimitExceeded):
        stake(player, "5.01")
    assert LedgerTransaction.objects.count() == before
    assert wallet_balances(player=player).cash == eur("100.00")


def test_refused_deposit_posts_nothing(player, clock_at):
    set_limit(player, "deposit", "day", "5.00")
    with pytest.raises(LimitExceeded):
        deposit(player, "5.01")
    assert not LedgerTransaction.objects.exists()
    assert wallet_balances(player=player).cash == eur("0.00")


def test_deposit_limits_do_not_stop_stakes_and_stake_limits_do_not_stop_deposits(player, fund, clock_at):
    fund(player, "50.00")
    set_limit(player, "deposit", "day", "51.00")
    stake(player, "40.00")
    set_limit(player, "wager", "day", "1.00")
    set_limit(player, "loss", "day", "1.00")
    deposit(player, "1.00")
    # 50 funded - 40 staked + 1 deposited: neither limit kind blocked the other's action.
    assert wallet_balances(player=player).cash == eur("11.00")


def test_stake_replay_answers_as_before_even_at_the_limit(player, fund, clock_at):
    fund(player, "50.00")
    set_limit(player, "wager", "day", "10.00")
    first = stake(player, "10.00", key="bet-once")
    again = stake(player, "10.00", key="bet-once")
    assert again.pk == first.pk and again.replayed


def test_overview_shows_usage_and_pending(player, clock_at):
    set_limit(player, "deposit", "day", "50.00")
    deposit(player, "20.00")
    set_limit(player, "deposit", "day", "70.00")
    [view] = protection_overview(player=player).limits
    assert (view.amount, view.used, view.remaining, view.pending_amount) == (eur("50.00"), eur("20.00"), eur("30.00"), eur("70.00"))
    clock_at.shift(timedelta(hours=24))
    # Shown as in force once due, even before anything stored it.
    [view] = protection_overview(player=player).limits
    assert (view.amount, view.pending_amount, view.pending_from) == (eur("70.00"), None, None)


# --- Operators: stricter yes, looser never ---


def test_operator_can_tighten_with_history(player, staff_user, clock_at):
    officer = staff_user()
    set_limit(player, "deposit", "day", "50.00")
    set_limit(player, "deposit", "day", "100.00")  # pending raise
    limit = services.limit_tighten_by_operator(
        player=player, kind="deposit", period="day", amount=eur("20.00"), actor=officer, reason="Safer-gambling call"
    )
    assert limit.amount_minor == 2000 and limit.pending_amount_minor is None
    latest = limit.history.order_by("-history_id").first()
    assert latest.history_user == officer and "Safer-gambling call" in latest.history_change_reason


def test_operator_can_add_a_limit_where_none_existed(player, staff_user):
    limit = services.limit_tighten_by_operator(
        player=player, kind="loss", period="month", amount=eur("200.00"), actor=staff_user(), reason="Affordability"
    )
    assert limit.amount_minor == 20000


def test_operator_cannot_loosen(player, staff_user):
    set_limit(player, "deposit", "day", "50.00")
    with pytest.raises(ValidationFailed):
        services.limit_tighten_by_operator(
            player=player, kind="deposit", period="day", amount=eur("50.01"), actor=staff_user(), reason="VIP request"
        )
    with pytest.raises(ValidationFailed):
        services.limit_tighten_by_operator(
            player=player, kind="deposit", period="day", amount=eur("50.00"), actor=staff_user(), reason="No change"
        )
    assert Limit.objects.get(player=player).amount_minor == 5000


def test_operator_tighten_needs_a_reason(player, staff_user):
    with pytest.raises(ValidationFailed):
        services.limit_tighten_by_operator(player=player, kind="deposit", period="day", amount=eur("5.00"), actor=staff_user(), reason=" ")
    assert not Limit.objects.exists()


# --- The payments service, once it lands ---


def test_payments_deposit_create_enforces_the_deposit_limit(player, clock_at):
    payments = pytest.importorskip("apps.payments.services")
    deposit_create = getattr(payments, "deposit_create", None)
    if deposit_create is None:
        pytest.skip("apps.payments.services.deposit_create has not landed yet")
    set_limit(player, "deposit", "day", "50.00")
    deposit_create(player=player, amount=eur("40.00"), method="sandbox", idempotency_key="rg-pay-1")
    with pytest.raises(LimitExceeded) as refused:
        deposit_create(player=player, amount=eur("20.00"), method="sandbox", idempotency_key="rg-pay-2")
    assert refused.value.details["remaining"] == "10.00"
    assert wallet_balances(player=player).cash == eur("40.00")


def test_stake_replay_answers_as_before_even_when_now_self_excluded(player, fund, clock_at):
    fund(player, "50.00")
    first = stake(player, "10.00", key="bet-before-exclusion")
    services.self_exclusion_start(player=player, months=6)
    again = stake(player, "10.00", key="bet-before-exclusion")
    assert again.pk == first.pk and again.replayed
    with pytest.raises(SelfExcluded):
        stake(player, "10.00", key="bet-after-exclusion")


def test_the_first_limit_marks_the_player_as_having_limits(player, fund, clock_at):
    fund(player, "50.00")
    stake(player, "1.00")
    assert not PlayerProtection.objects.get(player=player).has_limits
    set_limit(player, "wager", "day", "5.00")
    assert PlayerProtection.objects.get(player=player).has_limits
    with pytest.raises(LimitExceeded):
        stake(player, "5.00")
    # A removal keeps the row and the flag: the limit stays in force for the cooling-off.
    services.limit_remove(player=player, kind="wager", period="day")
    assert PlayerProtection.objects.get(player=player).has_limits
    with pytest.raises(LimitExceeded):
        stake(player, "5.00")


@pytest.mark.parametrize("protection_first", [True, False])
def test_a_limit_row_written_past_the_services_is_still_enforced(player, fund, clock_at, protection_first):
    """The has_limits shortcut must never hide a limit: the database trigger and first-use check keep it true."""
    fund(player, "50.00")
    if protection_first:
        stake(player, "1.00")  # opens the protection row with has_limits = False
    Limit.objects.create(  # no service
        player=player, kind="wager", period="day", amount_minor=300, currency="EUR", requested_at=START, activated_at=START
    )
    with pytest.raises(LimitExceeded):
        stake(player, "5.00")
    if protection_first:
        assert PlayerProtection.objects.get(player=player).has_limits  # set by the trigger
