"""Issue 7's responsible-gaming defects: each test failed before its fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.core.errors import AccountBlocked, SelfExcluded
from apps.limits import services
from apps.limits.models import Limit
from apps.limits.tasks import end_expired_exclusions
from apps.players.selectors import player_by_public_id
from apps.players.services import player_reinstate, player_suspend

from .helpers import START, deposit, eur

pytestmark = pytest.mark.django_db

EXCLUSION_END = datetime(2025, 9, 3, 12, 0, tzinfo=UTC)  # START + 6 months


def refresh(player):
    return player_by_public_id(player.public_id)


# --- A self-exclusion does not wipe a suspension ---


def test_a_suspended_player_who_self_excludes_is_still_suspended_after_the_exclusion(player, staff_user, clock_at):
    officer = staff_user()
    player_suspend(player=player, actor=officer, reason="Fraud investigation")
    services.self_exclusion_start(player=refresh(player), months=6)
    assert refresh(player).status == "self_excluded"

    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    services.self_exclusion_reactivate(player=refresh(player))
    clock_at.shift(timedelta(days=1))
    with pytest.raises(AccountBlocked) as refused:  # the return is due, and it returns to the suspension
        deposit(player, "1.00")
    assert refused.value.details == {"status": "suspended"}
    assert end_expired_exclusions.delay().get()["reactivated"] == 1

    current = refresh(player)
    assert current.status == "suspended"
    assert "earlier suspension stands" in current.history.order_by("-history_id").first().history_change_reason
    with pytest.raises(AccountBlocked):
        deposit(player, "1.00")
    # Staff lift the suspension as they would have without the exclusion.
    player_reinstate(player=current, actor=officer, reason="Investigation closed")
    deposit(player, "1.00")


def test_an_active_player_still_returns_active(player, clock_at):
    services.self_exclusion_start(player=player, months=6)
    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    services.self_exclusion_reactivate(player=player)
    clock_at.shift(timedelta(days=1))
    assert end_expired_exclusions.delay().get()["reactivated"] == 1
    assert refresh(player).status == "active"


# --- No loosening of limits while excluded or timed out ---


@pytest.fixture
def limited(player):
    services.limit_set(player=player, kind="deposit", period="day", amount=eur("10.00"))
    return player


@pytest.mark.parametrize("exclude", ["timeout", "self_exclusion"])
def test_raises_and_removals_are_refused_while_excluded(limited, clock_at, exclude):
    if exclude == "timeout":
        services.timeout_start(player=limited, hours=48)
    else:
        services.self_exclusion_start(player=limited, months=6)
    with pytest.raises(SelfExcluded) as raised:
        services.limit_set(player=limited, kind="deposit", period="day", amount=eur("50.00"))
    with pytest.raises(SelfExcluded):
        services.limit_remove(player=limited, kind="deposit", period="day")
    assert raised.value.details["reason"] == exclude
    limit = Limit.objects.get(player=limited)
    assert (limit.amount_minor, limit.pending_amount_minor, limit.pending_removal) == (1000, None, False)
    # Stricter is always allowed.
    assert services.limit_set(player=limited, kind="deposit", period="day", amount=eur("5.00")).amount_minor == 500


def test_a_removal_asked_for_after_the_exclusion_ended_but_before_the_return_is_refused(limited, clock_at):
    services.self_exclusion_start(player=limited, months=6)
    clock_at.move_to(EXCLUSION_END + timedelta(days=1), tick=False)
    with pytest.raises(SelfExcluded):  # the period is over but the player has not returned yet
        services.limit_remove(player=limited, kind="deposit", period="day")


def test_raises_are_allowed_again_after_the_timeout(limited, clock_at):
    services.timeout_start(player=limited, hours=24)
    clock_at.move_to(START + timedelta(hours=24), tick=False)
    limit = services.limit_set(player=limited, kind="deposit", period="day", amount=eur("50.00"))
    assert limit.pending_amount_minor == 5000


def test_the_api_refuses_a_removal_while_timed_out(limited, rg_client, clock_at):
    services.timeout_start(player=limited, hours=24)
    response = rg_client.delete("/api/v1/responsible-gaming/limits/deposit/day")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "self_excluded"
