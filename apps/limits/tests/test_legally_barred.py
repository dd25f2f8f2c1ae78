"""A legally barred player (a national self-exclusion register names them: GAMSTOP, RGIAJ) does not come back
when their own self-exclusion ends: UKGC LCCP SR 3.5.4 (GAMSTOP participation), RD 1614/2011 art. 26 (RGIAJ).

Everything goes through the real services: the self-exclusion, the register's daily batch, the clock moved past
the period the way the other exclusion tests move it, the return request, the periodic task, deposits and stakes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.core.errors import AccountBlocked, InvalidState, SelfExcluded
from apps.limits import services
from apps.limits.models import Exclusion, PlayerProtection
from apps.limits.tasks import end_expired_exclusions
from apps.markets.models import NationalRegisterEntry
from apps.players.models import User
from apps.players.selectors import player_by_public_id
from apps.players.services import national_register_batch_check, player_reinstate, player_reinstate_barred, player_suspend

from .helpers import deposit, stake

pytestmark = pytest.mark.django_db

EXCLUSION_END = datetime(2025, 9, 3, 12, 0, tzinfo=UTC)  # START + 6 months
BARRED = {"reason": "legally_barred", "register": "rgiaj"}


def refresh(player):
    return player_by_public_id(player.public_id)


@pytest.fixture
def spanish(make_player, fund):
    """A dgoj player (RGIAJ is their market's register) with some cash, so a refused stake is refused for the bar."""
    player = make_player(country="ES", first_name="Nuria", last_name="Vidal", date_of_birth=date(1988, 4, 2))
    fund(player, "50.00")
    return player


def bar_on_rgiaj(player) -> NationalRegisterEntry:
    """Put the player on RGIAJ and run the daily register batch, as the beat schedule does."""
    entry = NationalRegisterEntry.objects.create(
        register="rgiaj", first_name=player.user.first_name, last_name=player.user.last_name, date_of_birth=player.date_of_birth
    )
    assert national_register_batch_check()["barred"] == 1
    barred = refresh(player)
    assert (barred.status, barred.legally_barred_register) == ("self_excluded", "rgiaj")
    return entry


def assert_barred_and_no_play(player):
    current = refresh(player)
    assert current.status == "self_excluded"
    assert current.legally_barred_at is not None and current.legally_barred_register == "rgiaj"
    with pytest.raises(SelfExcluded) as refused_deposit:
        deposit(player, "1.00")
    assert refused_deposit.value.details == BARRED
    with pytest.raises(SelfExcluded):
        stake(player, "1.00")


def test_the_return_is_refused_when_the_register_barred_the_player_during_their_self_exclusion(spanish, clock_at):
    services.self_exclusion_start(player=spanish, months=6)
    bar_on_rgiaj(spanish)
    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    assert end_expired_exclusions.delay().get() == {"ended": 1, "reactivated": 0}  # the own period is over

    with pytest.raises(SelfExcluded) as refused:
        services.self_exclusion_reactivate(player=refresh(spanish))
    assert refused.value.details == BARRED
    assert PlayerProtection.objects.get(player=spanish).reactivation_requested_at is None
    assert Exclusion.objects.get().reactivation_requested_at is None

    clock_at.shift(timedelta(days=2))  # well past any cooling-off
    assert end_expired_exclusions.delay().get() == {"ended": 0, "reactivated": 0}
    assert_barred_and_no_play(spanish)


def test_a_return_asked_for_before_the_bar_does_not_go_through(spanish, clock_at):
    services.self_exclusion_start(player=spanish, months=6)
    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    services.self_exclusion_reactivate(player=spanish)  # the one-day cooling-off starts
    clock_at.shift(timedelta(hours=12))
    bar_on_rgiaj(spanish)  # the register names them during the cooling-off
    clock_at.shift(timedelta(hours=12))

    # The cooling-off has passed: without the bar the check would let them play before the task stores the return.
    assert_barred_and_no_play(spanish)
    assert end_expired_exclusions.delay().get() == {"ended": 0, "reactivated": 0}
    assert_barred_and_no_play(spanish)
    protection = PlayerProtection.objects.get(player=spanish)
    assert protection.reactivation_requested_at is None  # the bar overrides the request, as a new exclusion does
    assert "legally barred" in protection.history.order_by("-history_id").first().history_change_reason
    assert Exclusion.objects.get().reactivated_at is None
    assert end_expired_exclusions.delay().get() == {"ended": 0, "reactivated": 0}  # nothing left to retry


def test_a_suspended_player_barred_during_the_cooling_off_stays_self_excluded(spanish, staff_user, clock_at):
    officer = staff_user("operator")
    player_suspend(player=spanish, actor=officer, reason="Payment dispute")
    services.self_exclusion_start(player=refresh(spanish), months=6)
    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    services.self_exclusion_reactivate(player=refresh(spanish))
    bar_on_rgiaj(spanish)
    clock_at.shift(timedelta(days=1))

    assert end_expired_exclusions.delay().get()["reactivated"] == 0
    # Not suspended, where the operator's reinstatement would make them active: self-excluded, with the bar.
    assert_barred_and_no_play(spanish)
    with pytest.raises(InvalidState):
        player_reinstate(player=refresh(spanish), actor=officer, reason="Dispute settled")
    assert refresh(spanish).status == "self_excluded"


def test_after_the_bar_is_lifted_the_ordinary_return_works(spanish, staff_user, clock_at):
    operator = staff_user("operator")
    services.self_exclusion_start(player=spanish, months=6)
    entry = bar_on_rgiaj(spanish)
    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    with pytest.raises(SelfExcluded):
        services.self_exclusion_reactivate(player=refresh(spanish))

    with pytest.raises(InvalidState, match="still names"):
        player_reinstate_barred(player=refresh(spanish), actor=operator, reason="Player says they left RGIAJ")
    entry.delete()  # RGIAJ no longer names them
    lifted = player_reinstate_barred(player=refresh(spanish), actor=operator, reason="RGIAJ no longer lists the player")
    # Only the bar goes: the player's own self-exclusion ends by their own return, as for anyone.
    assert (lifted.status, lifted.legally_barred_at, lifted.legally_barred_register) == ("self_excluded", None, "")
    with pytest.raises(SelfExcluded) as refused:
        deposit(spanish, "1.00")
    assert refused.value.details == {"reason": "self_exclusion"}

    services.self_exclusion_reactivate(player=refresh(spanish))
    clock_at.shift(timedelta(days=1))
    assert end_expired_exclusions.delay().get()["reactivated"] == 1
    assert refresh(spanish).status == "active"
    deposit(spanish, "1.00")
    stake(spanish, "1.00")


def test_a_suspension_from_before_the_exclusion_still_comes_back_once_the_bar_is_lifted(spanish, staff_user, clock_at):
    operator = staff_user("operator")
    player_suspend(player=spanish, actor=operator, reason="Payment dispute")
    services.self_exclusion_start(player=refresh(spanish), months=6)
    entry = bar_on_rgiaj(spanish)
    entry.delete()
    player_reinstate_barred(player=refresh(spanish), actor=operator, reason="RGIAJ no longer lists the player")
    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    services.self_exclusion_reactivate(player=refresh(spanish))
    clock_at.shift(timedelta(days=1))
    assert end_expired_exclusions.delay().get()["reactivated"] == 1
    assert refresh(spanish).status == "suspended"
    with pytest.raises(AccountBlocked):
        deposit(spanish, "1.00")


def test_the_api_answers_403_self_excluded_and_the_player_can_still_read(spanish, clock_at):
    services.self_exclusion_start(player=spanish, months=6)
    bar_on_rgiaj(spanish)
    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    client = APIClient()
    # No JWT (moving the clock by months would expire it); a user read afresh, not one caching the player as registered.
    client.force_authenticate(user=User.objects.get(pk=spanish.user_id))

    response = client.post("/api/v1/responsible-gaming/reactivate")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "self_excluded" and response.json()["error"]["details"] == BARRED
    assert client.get("/api/v1/responsible-gaming").json()["reactivation_requested_at"] is None
    response = client.post("/api/v1/wallet/deposits", {"amount": "10.00", "method": "sandbox"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="barred-deposit")
    assert response.status_code == 403 and response.json()["error"]["code"] == "self_excluded"
    assert client.get("/api/v1/me").json()["status"] == "self_excluded"
