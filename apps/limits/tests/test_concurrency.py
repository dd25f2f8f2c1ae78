"""Real threads on PostgreSQL: the per-player protection lock keeps concurrent money calls inside the limits."""

from __future__ import annotations

from collections import Counter

import pytest

from apps.core.errors import LimitExceeded, SelfExcluded
from apps.core.testing import run_together as together
from apps.limits import services
from apps.limits.models import PlayerProtection
from apps.limits.selectors import limit_usage_minor

from .helpers import deposit, eur, stake

THREADS = 10


def run_together(action) -> Counter:
    """Start THREADS callers at one barrier and count what each got; any other error fails the test, with its name."""

    def outcome(n: int) -> str:
        action(n)
        return "ok"

    named = {LimitExceeded: "limit_exceeded", SelfExcluded: "self_excluded"}
    results = together(THREADS, outcome)
    return Counter(
        named.get(type(r), f"error:{r.__class__.__name__}:{r}") if isinstance(r, Exception) else r for r in results
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_deposits_never_exceed_the_deposit_limit(make_player):
    player = make_player()
    services.limit_set(player=player, kind="deposit", period="day", amount=eur("50.00"))
    outcomes = run_together(lambda n: deposit(player, "10.00", key=f"conc-dep-{n}"))
    assert outcomes == Counter({"ok": 5, "limit_exceeded": 5})
    assert limit_usage_minor(player=player, kind="deposit", period="day") == 5000


@pytest.mark.django_db(transaction=True)
def test_concurrent_stakes_never_exceed_the_wager_limit(make_player, fund):
    player = make_player()
    fund(player, "500.00")
    services.limit_set(player=player, kind="wager", period="day", amount=eur("30.00"))
    outcomes = run_together(lambda n: stake(player, "5.00", key=f"conc-bet-{n}"))
    assert outcomes == Counter({"ok": 6, "limit_exceeded": 4})
    assert limit_usage_minor(player=player, kind="wager", period="day") == 3000


@pytest.mark.django_db(transaction=True)
def test_first_checks_race_to_create_the_protection_row_safely(make_player):
    """No row exists yet: ten first-ever checks must all pass without an IntegrityError."""
    player = make_player()
    assert not PlayerProtection.objects.filter(player=player).exists()
    outcomes = run_together(lambda n: deposit(player, "1.00", key=f"conc-first-{n}"))
    assert outcomes == Counter({"ok": THREADS})
    assert PlayerProtection.objects.filter(player=player).count() == 1


@pytest.mark.django_db(transaction=True)
def test_self_exclusion_racing_stakes_lets_none_through_after_it(make_player, fund):
    """Stakes and a self-exclusion at once: each stake lands wholly before or is refused after, never in between."""
    player = make_player()
    fund(player, "500.00")

    def action(n: int) -> None:
        if n == 0:
            services.self_exclusion_start(player=player, months=6)
        else:
            stake(player, "1.00", key=f"conc-excl-{n}")

    outcomes = run_together(action)
    assert sum(outcomes.values()) == THREADS
    assert set(outcomes) <= {"ok", "self_excluded"}
    with pytest.raises(SelfExcluded):
        stake(player, "1.00")


@pytest.mark.django_db(transaction=True)
def test_protection_check_outside_a_transaction_is_a_programming_error(make_player):
    """Its lock must last until the money is posted; outside a transaction it would end at once."""
    player = make_player()
    with pytest.raises(RuntimeError):
        services.protection_check(player=player, action="deposit", amount=eur("1.00"))
