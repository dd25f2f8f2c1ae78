"""An account barred because its person self-excluded on another account does not come back through the return
from its own, earlier self-exclusion (UKGC LCCP SR 3.5.4: multi-account self-exclusion; RD 1614/2011 art. 26).

Everything goes through the real services and the API: registration, the self-exclusions, the login that bars the
duplicate, the clock moved past the periods, the return request, the periodic task, deposits and stakes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from apps.core.errors import InvalidState, SelfExcluded
from apps.limits import services
from apps.limits.models import Exclusion, ExclusionKind, PlayerProtection
from apps.limits.tasks import end_expired_exclusions
from apps.players.models import ExcludedIdentity, User
from apps.players.selectors import player_by_public_id

from .helpers import START, deposit, stake

pytestmark = pytest.mark.django_db

PASSWORD = "A-strong-passphrase-42"
SIX_MONTHS_LATER = START.replace(month=9) + timedelta(days=1)
IDENTITY = {"reason": "identity_excluded"}


def refresh(player):
    return player_by_public_id(player.public_id)


def login(email: str) -> None:
    """The real login, which bars another account of a self-excluded person (players.player_bar_if_identity_excluded)."""
    response = APIClient().post("/api/v1/auth/token", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content


def client_of(player) -> APIClient:
    client = APIClient()
    # No JWT (moving the clock by months would expire it); a user read afresh, not one caching an old status.
    client.force_authenticate(user=User.objects.get(pk=player.user_id))
    return client


def return_through_the_api(player) -> None:
    response = client_of(player).post("/api/v1/responsible-gaming/reactivate")
    assert response.status_code == 200, response.content


def complete_due_returns(clock_at) -> int:
    clock_at.shift(timedelta(days=1, minutes=1))  # past the one-day cooling-off
    return end_expired_exclusions.delay().get()["reactivated"]


@pytest.fixture
def twins(make_player, fund):
    """Two accounts of one person (same name and date of birth, two emails), both opened before any exclusion."""
    first = make_player(email="lena.first@example.com", first_name="Lena", last_name="Dupont")
    second = make_player(email="lena.second@example.com", first_name="Lena", last_name="Dupont")
    fund(first, "50.00")
    return first, second


@pytest.fixture
def returned_then_duplicate_barred(twins, clock_at):
    """The first account's own 6-month exclusion ended and it returned; then the person self-excluded for 60 months
    on the second account, and the first account's next login barred it as a duplicate."""
    first, second = twins
    services.self_exclusion_start(player=first, months=6)
    clock_at.move_to(SIX_MONTHS_LATER, tick=False)
    return_through_the_api(first)
    assert complete_due_returns(clock_at) == 1
    assert refresh(first).status == "active"
    assert Exclusion.objects.get(player=first).reactivated_at is not None  # the own exclusion was returned from

    services.self_exclusion_start(player=refresh(second), months=60)
    login("lena.first@example.com")
    assert refresh(first).status == "self_excluded"
    return first, second


def assert_second_account_still_excluded(second, until) -> None:
    current = refresh(second)
    assert current.status == "self_excluded"
    protection = PlayerProtection.objects.get(player=second)
    assert (protection.self_excluded_until, protection.reactivation_requested_at) == (until, None)
    assert ExcludedIdentity.objects.filter(player=second, active=True).exists()
    assert Exclusion.objects.get(player=second).ended_at is None


def test_the_duplicate_cannot_return_through_its_own_earlier_exclusion(returned_then_duplicate_barred, clock_at):
    first, second = returned_then_duplicate_barred
    until = PlayerProtection.objects.get(player=second).self_excluded_until
    client = client_of(first)

    response = client.post("/api/v1/responsible-gaming/reactivate")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "self_excluded"
    assert response.json()["error"]["details"] == IDENTITY
    assert client.get("/api/v1/responsible-gaming").json()["reactivation_requested_at"] is None

    assert complete_due_returns(clock_at) == 0
    assert refresh(first).status == "self_excluded"
    with pytest.raises(SelfExcluded):
        deposit(refresh(first), "1.00")
    with pytest.raises(SelfExcluded):
        stake(refresh(first), "1.00")
    assert_second_account_still_excluded(second, until)
    assert client_of(second).get("/api/v1/me").json()["status"] == "self_excluded"


def test_an_exclusion_already_returned_from_is_no_way_back_once_the_person_is_free(returned_then_duplicate_barred, clock_at):
    """Even with no other exclusion standing, a returned-from exclusion opens nothing: an operator lifts the bar."""
    first, second = returned_then_duplicate_barred
    ExcludedIdentity.objects.filter(player=second).update(active=False)  # as if the person's other exclusion were over

    with pytest.raises(InvalidState, match="no ended self-exclusion to return from"):
        services.self_exclusion_reactivate(player=refresh(first))
    assert PlayerProtection.objects.get(player=first).reactivation_requested_at is None
    assert complete_due_returns(clock_at) == 0
    assert refresh(first).status == "self_excluded"


def test_a_return_asked_for_before_the_other_account_excluded_does_not_go_through(twins, clock_at):
    """The person asks to return on the first account, then self-excludes on the second during the cooling-off:
    neither the check nor the task lets the first account back."""
    first, second = twins
    services.self_exclusion_start(player=first, months=6)
    clock_at.move_to(SIX_MONTHS_LATER, tick=False)
    return_through_the_api(first)
    clock_at.shift(timedelta(hours=12))
    services.self_exclusion_start(player=refresh(second), months=60)
    until = PlayerProtection.objects.get(player=second).self_excluded_until
    clock_at.shift(timedelta(hours=13))  # the cooling-off has passed; the task has not run yet

    with pytest.raises(SelfExcluded) as refused:
        deposit(refresh(first), "1.00")
    assert refused.value.details == IDENTITY
    assert end_expired_exclusions.delay().get()["reactivated"] == 0
    assert refresh(first).status == "self_excluded"
    assert PlayerProtection.objects.get(player=first).reactivation_requested_at is None  # dropped, not retried
    assert Exclusion.objects.get(player=first).reactivated_at is None
    assert_second_account_still_excluded(second, until)


def test_a_duplicate_barred_account_that_self_excludes_itself_keeps_the_person_excluded(twins, clock_at):
    """The second account, already barred as a duplicate, self-excludes for 60 months of its own: when the first
    account's 6 months end, the person is still self-excluded, so the first does not return."""
    first, second = twins
    services.self_exclusion_start(player=first, months=6)
    login("lena.second@example.com")
    assert refresh(second).status == "self_excluded"
    services.self_exclusion_start(player=refresh(second), months=60)
    assert ExcludedIdentity.objects.filter(player=second, active=True).exists()

    clock_at.move_to(SIX_MONTHS_LATER, tick=False)
    with pytest.raises(SelfExcluded) as refused:
        services.self_exclusion_reactivate(player=refresh(first))
    assert refused.value.details == IDENTITY
    assert complete_due_returns(clock_at) == 0
    assert refresh(first).status == "self_excluded"


def test_an_ordinary_player_whose_own_exclusion_ended_still_returns(twins, clock_at):
    first, second = twins
    services.self_exclusion_start(player=first, months=6)
    clock_at.move_to(SIX_MONTHS_LATER, tick=False)
    client = client_of(first)

    response = client.post("/api/v1/responsible-gaming/reactivate")
    assert response.status_code == 200 and response.json()["reactivation_requested_at"] is not None
    assert complete_due_returns(clock_at) == 1
    assert refresh(first).status == "active"
    own = Exclusion.objects.get(player=first, kind=ExclusionKind.SELF_EXCLUSION)
    assert own.reactivated_at is not None
    assert not ExcludedIdentity.objects.filter(active=True).exists()
    deposit(refresh(first), "1.00")
    stake(refresh(first), "1.00")
    assert refresh(second).status == "active"  # the other account was never touched


def test_two_own_exclusions_of_one_person_each_return_once_both_periods_are_over(twins, clock_at):
    """Each account self-excluded of its own (6 and 12 months): the shorter one's end does not let the person back
    while the longer lasts, and once both are over neither waits for the other's return for ever."""
    first, second = twins
    services.self_exclusion_start(player=first, months=6)
    services.self_exclusion_start(player=refresh(second), months=12)
    clock_at.move_to(SIX_MONTHS_LATER, tick=False)
    with pytest.raises(SelfExcluded) as refused:
        services.self_exclusion_reactivate(player=refresh(first))
    assert refused.value.details == IDENTITY

    clock_at.move_to(START.replace(year=START.year + 1) + timedelta(days=1), tick=False)
    return_through_the_api(first)  # the second account's period is over too, though it has not returned yet
    assert complete_due_returns(clock_at) == 1
    return_through_the_api(second)
    assert complete_due_returns(clock_at) == 1
    assert (refresh(first).status, refresh(second).status) == ("active", "active")
    assert not ExcludedIdentity.objects.filter(active=True).exists()
    login("lena.first@example.com")  # nothing left to bar either account for
    assert refresh(first).status == "active"
