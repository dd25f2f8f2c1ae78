"""Time-outs, self-exclusion, the return from it, and reality checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.core.errors import InvalidState, SelfExcluded, ValidationFailed
from apps.ledger.models import LedgerTransaction
from apps.ledger.selectors import wallet_balances
from apps.ledger.services import withdrawal_hold_post
from apps.limits import services
from apps.limits.models import Exclusion, ExclusionEnd, PlayerProtection
from apps.limits.selectors import protection_overview
from apps.limits.signals import exclusion_started
from apps.limits.tasks import end_expired_exclusions
from apps.players.selectors import player_assert_can_withdraw
from apps.players.services import player_close

from .helpers import START, deposit, eur, stake

pytestmark = pytest.mark.django_db


def refresh(player):
    from apps.players.selectors import player_by_public_id

    return player_by_public_id(player.public_id)


def assert_no_play_but_withdrawal_works(player, *, reason: str):
    before = LedgerTransaction.objects.count()
    with pytest.raises(SelfExcluded) as refused_deposit:
        deposit(player, "1.00")
    with pytest.raises(SelfExcluded):
        stake(player, "1.00")
    assert LedgerTransaction.objects.count() == before
    assert refused_deposit.value.details["reason"] == reason
    # Withdrawals never pass the protection check: pending and new withdrawals stay payable.
    player_assert_can_withdraw(refresh(player))
    withdrawal_hold_post(player=player, amount=eur("5.00"), idempotency_key=f"rg-wd-{player.pk}-{before}", reference="withdrawal:test")
    assert wallet_balances(player=player).held == eur("5.00")


# --- Time-out ---


def test_timeout_blocks_play_and_deposits_but_not_withdrawals(player, fund, clock_at):
    fund(player, "20.00")
    protection = services.timeout_start(player=player, hours=24)
    assert protection.timeout_until == START + timedelta(hours=24)
    assert_no_play_but_withdrawal_works(player, reason="timeout")
    assert refresh(player).status == "active"  # a time-out is not a status change


@pytest.mark.parametrize("hours", [23, 1009, 0, -24, True, "48", 48.0, None])
def test_timeout_hours_must_be_24_to_1008(player, hours):
    with pytest.raises(ValidationFailed):
        services.timeout_start(player=player, hours=hours)
    assert not Exclusion.objects.exists()


def test_timeout_cannot_be_shortened_only_extended(player, clock_at):
    services.timeout_start(player=player, hours=72)
    with pytest.raises(InvalidState):
        services.timeout_start(player=player, hours=48)
    clock_at.shift(timedelta(hours=1))
    with pytest.raises(InvalidState):
        services.timeout_start(player=player, hours=71)  # ends exactly when the current one does: no extension
    protection = services.timeout_start(player=player, hours=96)
    assert protection.timeout_until == START + timedelta(hours=97)
    old, new = Exclusion.objects.order_by("id")
    assert (old.end_reason, old.ended_at) == (ExclusionEnd.EXTENDED, START + timedelta(hours=1))
    assert (new.length, new.length_unit, new.ended_at) == (96, "hours", None)


def test_timeout_ends_by_itself_and_the_task_records_it(player, clock_at):
    services.timeout_start(player=player, hours=24)
    clock_at.shift(timedelta(hours=23, minutes=59))
    with pytest.raises(SelfExcluded):
        deposit(player, "1.00")
    clock_at.shift(timedelta(minutes=1))
    deposit(player, "1.00")  # no need to wait for the task
    assert end_expired_exclusions.delay().get() == {"ended": 1, "reactivated": 0}
    assert end_expired_exclusions.delay().get() == {"ended": 0, "reactivated": 0}
    assert PlayerProtection.objects.get(player=player).timeout_until is None
    row = Exclusion.objects.get()
    assert (row.end_reason, row.ended_at) == (ExclusionEnd.EXPIRED, START + timedelta(hours=24))


# --- Self-exclusion ---


def test_self_exclusion_sets_status_and_blocks_play(player, fund, clock_at):
    fund(player, "20.00")
    protection = services.self_exclusion_start(player=player, months=6)
    assert protection.self_excluded_until == datetime(2025, 9, 3, 12, 0, tzinfo=UTC)
    current = refresh(player)
    assert current.status == "self_excluded"
    status_change = current.history.order_by("-history_id").first()
    assert status_change.history_user == player.user and "self-exclusion for 6 months" in status_change.history_change_reason
    assert_no_play_but_withdrawal_works(player, reason="self_exclusion")


@pytest.mark.parametrize(("months", "permanent"), [(3, False), (None, False), (7, False), (6, True), (True, False), ("6", False)])
def test_self_exclusion_length_must_be_6_12_60_or_permanent(player, months, permanent):
    with pytest.raises(ValidationFailed):
        services.self_exclusion_start(player=player, months=months, permanent=permanent)
    assert refresh(player).status == "active"


def test_self_exclusion_can_be_extended_never_shortened(player, clock_at):
    services.self_exclusion_start(player=player, months=12)
    with pytest.raises(InvalidState):
        services.self_exclusion_start(player=player, months=6)
    clock_at.shift(timedelta(days=30))
    protection = services.self_exclusion_start(player=player, months=60)
    assert protection.self_excluded_from == START  # one continuous exclusion
    assert protection.self_excluded_until == datetime(2030, 4, 2, 12, 0, tzinfo=UTC)
    protection = services.self_exclusion_start(player=player, permanent=True)
    assert protection.self_exclusion_permanent and protection.self_excluded_until is None
    with pytest.raises(InvalidState):
        services.self_exclusion_start(player=player, months=60)
    assert [e.end_reason for e in Exclusion.objects.order_by("id")] == ["extended", "extended", ""]


def test_self_exclusion_cannot_be_lifted_early_by_anyone(player, clock_at):
    services.self_exclusion_start(player=player, months=6)
    clock_at.move_to(datetime(2025, 9, 3, 11, 59, tzinfo=UTC), tick=False)
    with pytest.raises(SelfExcluded):
        services.self_exclusion_reactivate(player=player)
    assert services.exclusion_end_due() == 0
    assert refresh(player).status == "self_excluded"
    with pytest.raises(SelfExcluded):
        deposit(player, "1.00")


def test_expiry_ends_the_exclusion_but_the_player_stays_excluded_until_they_ask(player, clock_at):
    services.self_exclusion_start(player=player, months=6)
    clock_at.move_to(datetime(2025, 9, 3, 12, 0, tzinfo=UTC), tick=False)
    assert end_expired_exclusions.delay().get() == {"ended": 1, "reactivated": 0}
    protection = PlayerProtection.objects.get(player=player)
    assert protection.self_excluded_until is None and protection.self_excluded_from is None
    assert Exclusion.objects.get().end_reason == ExclusionEnd.EXPIRED
    # Positive action is needed to return (UKGC LCCP SR 3.5.3): still no play.
    assert refresh(player).status == "self_excluded"
    with pytest.raises(SelfExcluded):
        deposit(player, "1.00")


def test_return_after_the_period_takes_a_request_and_a_one_day_cooling_off(player, clock_at):
    services.self_exclusion_start(player=player, months=6)
    end = datetime(2025, 9, 3, 12, 0, tzinfo=UTC)
    clock_at.move_to(end + timedelta(days=3), tick=False)
    protection = services.self_exclusion_reactivate(player=player)  # ends the exclusion lazily, no task run yet
    assert protection.reactivation_requested_at == end + timedelta(days=3)
    assert protection_overview(player=player).reactivation_from == end + timedelta(days=4)
    assert refresh(player).status == "self_excluded"

    clock_at.shift(timedelta(hours=23, minutes=59))
    assert end_expired_exclusions.delay().get()["reactivated"] == 0
    with pytest.raises(SelfExcluded):
        deposit(player, "1.00")

    clock_at.shift(timedelta(minutes=1))
    assert end_expired_exclusions.delay().get() == {"ended": 0, "reactivated": 1}
    current = refresh(player)
    assert current.status == "active"
    reactivation = current.history.order_by("-history_id").first()
    assert reactivation.history_user == player.user and "asked to return" in reactivation.history_change_reason
    row = Exclusion.objects.get()
    assert row.reactivation_requested_at == end + timedelta(days=3) and row.reactivated_at == end + timedelta(days=4)
    deposit(player, "1.00")


def test_return_applies_at_the_check_before_the_task_but_only_the_task_writes_it(player, clock_at):
    services.self_exclusion_start(player=player, months=6)
    clock_at.move_to(datetime(2025, 9, 3, 12, 0, tzinfo=UTC), tick=False)
    services.self_exclusion_reactivate(player=player)
    clock_at.shift(timedelta(hours=24))
    protection_before = PlayerProtection.history.count()
    deposit(player, "1.00")  # the return is in force once the cooling-off has passed
    # protection_check is pure: the deposit wrote no status and no protection history.
    assert refresh(player).status == "self_excluded"
    assert PlayerProtection.history.count() == protection_before
    clock_at.shift(timedelta(hours=2))
    assert end_expired_exclusions.delay().get() == {"ended": 0, "reactivated": 1}
    assert refresh(player).status == "active"
    # Recorded as of the end of the cooling-off, when it took effect, not when the task ran.
    assert Exclusion.objects.get().reactivated_at == datetime(2025, 9, 4, 12, 0, tzinfo=UTC)


def test_permanent_self_exclusion_never_ends(player, clock_at):
    services.self_exclusion_start(player=player, permanent=True)
    clock_at.move_to(datetime(2045, 1, 1, tzinfo=UTC), tick=False)
    assert services.exclusion_end_due() == 0
    with pytest.raises(SelfExcluded) as refused:
        services.self_exclusion_reactivate(player=player)
    assert refused.value.details["permanent"] is True
    with pytest.raises(SelfExcluded):
        deposit(player, "1.00")


def test_a_new_exclusion_cancels_a_pending_return(player, clock_at):
    services.self_exclusion_start(player=player, months=6)
    clock_at.move_to(datetime(2025, 9, 4, tzinfo=UTC), tick=False)
    services.self_exclusion_reactivate(player=player)
    services.self_exclusion_start(player=player, months=12)
    clock_at.shift(timedelta(days=2))
    assert services.reactivation_complete_due() == 0
    assert refresh(player).status == "self_excluded"
    assert PlayerProtection.objects.get(player=player).reactivation_requested_at is None


def test_reactivation_needs_an_ended_exclusion_of_our_own(player):
    from apps.players.services import player_self_exclude

    with pytest.raises(InvalidState):
        services.self_exclusion_reactivate(player=player)  # not excluded at all
    player_self_exclude(player=player, actor=None, reason="National register match")
    with pytest.raises(InvalidState):
        services.self_exclusion_reactivate(player=player)
    assert refresh(player).status == "self_excluded"


def test_closed_player_cannot_start_a_self_exclusion(player, staff_user):
    player_close(player=player, actor=staff_user(), reason="Player request")
    with pytest.raises(InvalidState):
        services.self_exclusion_start(player=refresh(player), months=6)
    assert not Exclusion.objects.exists()


def test_exclusion_signal_is_sent_only_after_commit(player, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    exclusion_started.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.self_exclusion_start(player=player, months=12)
        assert received == []
        for callback in callbacks:
            callback()
    finally:
        exclusion_started.disconnect(receiver)
    assert len(received) == 1
    assert received[0]["player_id"] == player.pk and received[0]["kind"] == "self_exclusion" and received[0]["permanent"] is False


def test_suspended_player_is_blocked_as_account_blocked(player, staff_user):
    from apps.core.errors import AccountBlocked
    from apps.players.services import player_suspend

    player_suspend(player=player, actor=staff_user(), reason="Fraud check")
    with pytest.raises(AccountBlocked):
        deposit(player, "1.00")


# --- Reality checks ---


@pytest.mark.parametrize("minutes", [14, 241, 0, True, "30"])
def test_reality_check_interval_is_validated(player, minutes):
    with pytest.raises(ValidationFailed):
        services.reality_check_set(player=player, minutes=minutes)


def test_reality_check_is_due_each_interval_until_acknowledged(player, clock_at):
    services.reality_check_set(player=player, minutes=30)
    services.protection_session_start(player=player)
    overview = protection_overview(player=player)
    assert (overview.reality_check_due, overview.reality_check_next_at, overview.session_started_at) == (
        False,
        START + timedelta(minutes=30),
        START,
    )
    clock_at.shift(timedelta(minutes=29, seconds=59))
    assert not protection_overview(player=player).reality_check_due
    clock_at.shift(timedelta(seconds=1))
    assert protection_overview(player=player).reality_check_due
    services.reality_check_acknowledge(player=player)
    clock_at.shift(timedelta(minutes=29))
    assert not protection_overview(player=player).reality_check_due
    clock_at.shift(timedelta(minutes=1))
    overview = protection_overview(player=player)
    assert overview.reality_check_due and overview.reality_check_next_at == START + timedelta(minutes=90)
    services.reality_check_set(player=player, minutes=None)
    assert not protection_overview(player=player).reality_check_due


def test_a_new_session_restarts_the_reality_check(player, clock_at):
    services.reality_check_set(player=player, minutes=15)
    services.protection_session_start(player=player)
    clock_at.shift(timedelta(minutes=20))
    services.protection_session_start(player=player)
    overview = protection_overview(player=player)
    assert not overview.reality_check_due and overview.session_started_at == START + timedelta(minutes=20)
