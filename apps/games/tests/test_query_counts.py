"""The games lists cost the same number of queries for 2 rows as for 10 (see tests/test_query_counts.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.games import provider_wallet, services, stats
from conftest import client_for

from .conftest import eur

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 10


def _count(client, url: str) -> tuple[int, object]:
    client.get(url)  # warm per-process caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response


@pytest.fixture
def play(make_player, fund, house_games, caleta_provider):
    """Each call adds rows to every games table: a player, a session, a round, provider transactions, a day's stats."""

    def add(count: int) -> None:
        for _ in range(count):
            player = make_player()
            fund(player, "10.00")
            session = services.session_open(player=player, game=house_games["dice"])
            services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="k")
            token = services.launch_create(player=player, game=caleta_provider.game)
            provider_wallet.wallet_bet(provider=caleta_provider.provider, player=player, transaction_id=f"b{player.pk}", round_id="r",
                                       amount=Decimal("1.00"), currency="EUR", game=caleta_provider.game, token=token)
        stats.stats_refresh(day=stats.today())

    return add


@pytest.mark.parametrize("model", ["game", "gamesession", "round", "providertransaction", "provider", "gamedaystats"])
def test_games_admin_changelists_do_not_grow_with_rows(client, staff_user, play, model):
    client.force_login(staff_user(superuser=True))
    url = reverse(f"admin:games_{model}_changelist")
    play(FEW)
    few, _ = _count(client, url)
    play(MANY - FEW)
    many, _ = _count(client, url)
    assert many == few, f"{model}: {few} queries, then {many}"


def test_session_rounds_and_catalog_do_not_grow_with_rows(player, fund, house_games):
    fund(player, "50.00")
    client = client_for(player)
    session = services.session_open(player=player, game=house_games["roulette"])

    def rounds(count: int, start: int) -> None:
        for n in range(start, start + count):
            services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key=f"k{n}")

    rounds(FEW, 0)
    few, body_few = _count(client, f"/api/v1/game-sessions/{session.pk}/rounds")
    rounds(MANY - FEW, FEW)
    many, body_many = _count(client, f"/api/v1/game-sessions/{session.pk}/rounds")
    assert (len(body_few.json()["results"]), len(body_many.json()["results"])) == (FEW, MANY)
    assert many == few
    catalog, _ = _count(client, "/api/v1/games")
    assert catalog <= 4


def test_a_round_costs_a_fixed_number_of_queries(player, fund, house_games, django_assert_max_num_queries):
    """A round's round trips (here a 98% win), pinned so a regression shows: SAVEPOINT, the session lock, the idempotency lookup,
    the protection lock, the wallet lock + bet, the wallet lock + win, the round row, the nonce, RELEASE.
    The balance shown comes from the win's own entries, not from another query."""
    fund(player, "50.00")
    session = services.session_open(player=player, game=house_games["dice"])
    services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="warm")
    with django_assert_max_num_queries(11):
        played = services.round_play(
            player=player, session_id=session.pk, stake=eur("1.00"), choices={"target": "98.00"}, idempotency_key="counted"
        )
    from apps.ledger.selectors import wallet_balances

    assert played.balance_after == wallet_balances(player=player).cash
