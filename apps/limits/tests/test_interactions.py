"""Markers of harm open safer-gambling interactions (issue #11; UKGC LCCP SR 3.4.3 customer interaction), with a
controlled clock: the market's thresholds, idempotency per player, marker and window, the FSM with a note on every
step, the restriction an officer imposes, the beat schedule and the admin queue (oldest first)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django_celery_beat.models import PeriodicTask

from apps.core.errors import InvalidState, PermissionDenied, ValidationFailed
from apps.core.money import Money
from apps.core.testing import run_together
from apps.limits.models import HarmMarker, Limit, SafeGamblingInteraction
from apps.limits.services import harm_markers_detect, interaction_close, interaction_contact
from apps.limits.tasks import detect_markers_of_harm
from apps.markets.models import Market
from apps.markets.services import market_update
from apps.players.models import PlayerStatus

from .helpers import deposit, stake, win

pytestmark = pytest.mark.django_db


def set_rule(code: str, **changes) -> None:
    market_update(market=Market.objects.get(code=code), actor=None, reason="test", **changes)


def markers(player) -> list[str]:
    return sorted(SafeGamblingInteraction.objects.filter(player=player).values_list("marker", flat=True))


@pytest.fixture
def officer(staff_user):
    return staff_user("compliance")


@pytest.fixture
def loser(player, clock_at):
    """A default-market (intl: 1,000 EUR in 24 h, 2,000 EUR in 30 days) player who deposits 3,000 EUR over a month."""
    from apps.ledger.services import deposit_post

    set_rule("intl", due_diligence_threshold_eur=Decimal("100000.00"))  # these players are not verified; AML is not the point here
    deposit_post(player=player, amount=Money(Decimal("3000.00"), "EUR"), idempotency_key="big", reference="test")
    clock_at.shift(timedelta(days=8))  # the deposit is older than the deposit-rise window: only losses count here
    return player


def test_a_net_loss_at_the_24h_threshold_opens_one_interaction(loser, clock_at):
    stake(loser, "600.00")
    win(loser, "100.00")
    assert harm_markers_detect() == 0  # 500 lost
    stake(loser, "500.00")
    assert harm_markers_detect() == 1  # 1,000 lost in 24 h
    interaction = SafeGamblingInteraction.objects.get(player=loser)
    assert interaction.marker == HarmMarker.NET_LOSS_24H and interaction.status == "open"
    assert interaction.evidence == {"market": "intl", "currency": "EUR", "net_loss": "1000.00", "threshold": "1000.00",
                                    "threshold_rule": "1000.00 EUR"}
    assert harm_markers_detect() == 0 and detect_markers_of_harm() == 0  # re-runs open nothing


def test_the_30_day_loss_counts_the_month_and_thresholds_are_the_markets(loser, clock_at):
    for _ in range(3):
        stake(loser, "500.00")
        clock_at.shift(timedelta(days=5))
    assert harm_markers_detect() == 0  # 1,500 in 30 days, never more than 500 in 24 h
    stake(loser, "500.00")
    assert harm_markers_detect() == 1
    assert markers(loser) == [HarmMarker.NET_LOSS_30D]  # 2,000 in 30 days, never 1,000 in 24 h  # 2,000 in 30 days, never 1,000 in 24 h
    set_rule("intl", harm_net_loss_30d=None, harm_net_loss_24h=None)
    SafeGamblingInteraction.objects.all().delete()
    assert harm_markers_detect() == 0  # switched off in the market's data


def test_gb_thresholds_are_in_gbp_and_converted(make_player, clock_at):
    from apps.ledger.services import deposit_post

    player = make_player(country="GB", currency="EUR")
    deposit_post(player=player, amount=Money(Decimal("1000.00"), "EUR"), idempotency_key="d", reference="test")
    clock_at.shift(timedelta(days=8))  # out of the deposit-rise window
    from apps.games.services import stake_place  # the ukgc player is not verified: post the stake as the ledger would

    set_rule("ukgc", verification_before_play=False)
    stake_place(player=player, amount=Money(Decimal("585.00"), "EUR"), idempotency_key="s", reference="round:test")
    assert harm_markers_detect() == 1  # 500 GBP = 585.00 EUR at the demo rate, in 30 days
    assert SafeGamblingInteraction.objects.get(player=player).evidence["threshold"] == "585.00"


def test_rising_deposits_open_an_interaction(player, clock_at):
    for _ in range(4):  # 100 a week for four weeks
        deposit(player, "100.00")
        clock_at.shift(timedelta(days=7))
    clock_at.shift(timedelta(hours=1))
    deposit(player, "250.00")
    assert harm_markers_detect() == 0  # 250 < 500, the market's minimum
    deposit(player, "250.00")
    assert harm_markers_detect() == 1 and markers(player) == [HarmMarker.DEPOSITS_RISING]
    evidence = SafeGamblingInteraction.objects.get(player=player).evidence
    assert (evidence["deposits_7d"], evidence["weekly_average_28d_before"]) == ("500.00", "100.00")


def test_no_second_interaction_while_one_is_worked_then_one_per_window(loser, officer, clock_at):
    set_rule("intl", harm_net_loss_30d=None)  # the 24-hour marker alone
    stake(loser, "1000.00")
    assert harm_markers_detect() == 1
    clock_at.shift(timedelta(days=1))
    stake(loser, "1000.00")
    assert harm_markers_detect() == 0  # the first is still open
    first = SafeGamblingInteraction.objects.get()
    interaction_contact(interaction_id=first.pk, actor=officer, channel="phone", note="Talked about the losses.")
    interaction_close(interaction_id=first.pk, actor=officer, outcome="Player agreed to a limit.")
    assert harm_markers_detect() == 1  # a new day's window, the old one closed
    assert harm_markers_detect() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_open_it_once(loser, clock_at):
    stake(loser, "1000.00")
    results = run_together(3, lambda i: harm_markers_detect())
    assert sorted(results) == [0, 0, 1]
    assert SafeGamblingInteraction.objects.count() == 1


def test_the_workflow_notes_every_step_and_refuses_skipping(loser, officer, clock_at):
    stake(loser, "1000.00")
    harm_markers_detect()
    interaction = SafeGamblingInteraction.objects.get()
    with pytest.raises(InvalidState):
        interaction_close(interaction_id=interaction.pk, actor=officer, outcome="Skipped the call")
    with pytest.raises(ValidationFailed):
        interaction_contact(interaction_id=interaction.pk, actor=officer, channel="phone", note=" ")
    contacted = interaction_contact(interaction_id=interaction.pk, actor=officer, channel="phone", note="Called, player was calm.")
    assert (contacted.status, contacted.contacted_by, contacted.contact_channel) == ("contacted", officer, "phone")
    closed = interaction_close(interaction_id=interaction.pk, actor=officer, outcome="Imposed a limit.", restriction="deposit_limit",
                               deposit_limit=Money(Decimal("50.00"), "EUR"))
    assert closed.status == "closed" and closed.closed_by == officer
    limit = Limit.objects.get(player=loser, kind="deposit", period="day")
    assert limit.amount_minor == 5000
    reasons = list(closed.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert reasons[1:] == ["Contacted by phone: Called, player was calm.", "Closed (deposit_limit): Imposed a limit."]
    assert [h.history_user for h in closed.history.order_by("history_id")][1:] == [officer, officer]


def test_a_suspension_can_be_imposed_and_support_cannot_work_the_queue(loser, officer, staff_user, clock_at):
    stake(loser, "1000.00")
    harm_markers_detect()
    interaction = SafeGamblingInteraction.objects.get()
    with pytest.raises(PermissionDenied):
        interaction_contact(interaction_id=interaction.pk, actor=staff_user("support"), channel="email", note="Hi")
    interaction_contact(interaction_id=interaction.pk, actor=officer, channel="email", note="Sent the safer-gambling email.")
    interaction_close(interaction_id=interaction.pk, actor=officer, outcome="No reply; suspended.", restriction="suspension")
    loser.refresh_from_db()
    assert loser.status == PlayerStatus.SUSPENDED and loser.status_reason_code == "safer_gambling"


def test_the_task_is_scheduled_hourly_by_a_data_migration():
    task = PeriodicTask.objects.get(name="limits: detect markers of harm")
    assert task.task == "apps.limits.tasks.detect_markers_of_harm" and task.enabled and task.crontab.minute == "20"


def test_the_admin_queue_lists_open_ones_oldest_first_and_records_contact(client, loser, officer, make_player, clock_at):
    stake(loser, "1000.00")
    harm_markers_detect()
    clock_at.shift(timedelta(hours=1))
    second = make_player()
    from apps.ledger.services import deposit_post

    deposit_post(player=second, amount=Money(Decimal("2000.00"), "EUR"), idempotency_key="d2", reference="test")
    stake(second, "1500.00")
    harm_markers_detect()
    client.force_login(officer)
    page = client.get("/admin/limits/safegamblinginteraction/")
    assert page.status_code == 200
    ids = [row.pk for row in page.context["cl"].result_list]
    assert ids == list(SafeGamblingInteraction.objects.order_by("created_at", "id").values_list("pk", flat=True)) and len(ids) >= 2
    assert ids[0] == SafeGamblingInteraction.objects.get(player=loser).pk  # the oldest first
    first = ids[0]
    posted = client.post("/admin/limits/safegamblinginteraction/", {
        "action": "record_contact", "_selected_action": [str(first)], "apply": "1", "channel": "phone", "note": "Called.",
    })
    assert posted.status_code == 302
    assert SafeGamblingInteraction.objects.get(pk=first).status == "contacted"
