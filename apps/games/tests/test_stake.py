from decimal import Decimal

import pytest

from apps.core.errors import LimitExceeded, SelfExcluded
from apps.core.money import Money
from apps.games.services import stake_place
from apps.ledger.selectors import wallet_balances
from apps.limits import services as limits_services


def eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


def test_a_stake_of_a_player_without_limits_costs_few_queries(player, fund, django_assert_max_num_queries):
    """The stake path's round trips, pinned so a regression shows.

    Inside the test's transaction: SAVEPOINT, the protection lock with the player's status (two
    statements, one round trip), the wallet lock, the write, RELEASE SAVEPOINT. Outside a test the
    savepoint pair is BEGIN and COMMIT. No idempotency lookup and no limits query for a player who never set one.
    """
    fund(player, "10.00")
    stake_place(player=player, amount=eur("1.00"), idempotency_key="warm", reference="round:0")  # protection row opened
    with django_assert_max_num_queries(5) as captured:
        stake_place(player=player, amount=eur("1.00"), idempotency_key="counted", reference="round:1")
    statements = " ".join(q["sql"] for q in captured.captured_queries)
    assert "limits_limit" not in statements
    assert wallet_balances(player=player).cash == eur("8.00")


def test_a_stake_over_a_limit_is_refused_but_its_replay_answers_as_before(player, fund):
    fund(player, "50.00")
    first = stake_place(player=player, amount=eur("10.00"), idempotency_key="s1", reference="round:1")
    limits_services.limit_set(player=player, kind="wager", period="day", amount=eur("10.00"))
    with pytest.raises(LimitExceeded):
        stake_place(player=player, amount=eur("1.00"), idempotency_key="s2", reference="round:2")
    again = stake_place(player=player, amount=eur("10.00"), idempotency_key="s1", reference="round:1")
    assert again.pk == first.pk and again.replayed
    assert wallet_balances(player=player).cash == eur("40.00")


def test_a_self_excluded_player_cannot_stake(player, fund):
    fund(player, "50.00")
    limits_services.self_exclusion_start(player=player, months=6)
    with pytest.raises(SelfExcluded):
        stake_place(player=player, amount=eur("1.00"), idempotency_key="s1", reference="round:1")
    assert wallet_balances(player=player).cash == eur("50.00")
