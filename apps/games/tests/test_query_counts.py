"""The games lists cost the same number of queries for 2 rows as for 10 (see tests/test_query_counts.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.games import engines, fairness, provider_wallet, services, stats
from apps.games.models import Round
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


def _session_whose_round_wins(player, game, *, nonce: int, target: str):
    """A 98% win still loses one round in fifty, and a lost round skips the win posting this test counts: pick the
    client seed so the counted round's draw wins, as any player may choose theirs (provably fair: the seed is the
    player's)."""
    for attempt in range(200):
        session = services.session_open(player=player, game=game, client_seed=f"count-{attempt}")
        units = fairness.round_units(session.server_seed, session.client_seed, nonce, 1)
        if engines.Dice.wins(fairness.scaled(units[0], engines.DICE_ROLLS), {"target": target, "direction": "under"}):
            return session
    raise AssertionError("no winning seed in 200 tries")


def test_a_round_costs_a_fixed_number_of_queries(player, fund, house_games, approve, django_assert_max_num_queries):
    """A plain round's round trips (here a 98% win, a KYC-approved player: migration games 0005), pinned so a
    regression shows. On PostgreSQL: the session read (to
    draw the outcome) and one call of games_round_post, which locks the session, looks the key up, takes the protection
    lock, reads the status, posts the stake and the win and writes the round (migration games 0004). On SQLite, step by
    step: SAVEPOINT, the session lock, the idempotency lookup, the protection lock, the wallet lock + bet, the wallet
    lock + win, the round row, the nonce, RELEASE. The balance shown comes from the postings' own entries."""
    approve(player)
    fund(player, "50.00")
    session = _session_whose_round_wins(player, house_games["dice"], nonce=1, target="98.00")
    services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="warm")
    with django_assert_max_num_queries(2 if connection.vendor == "postgresql" else 11):
        played = services.round_play(
            player=player, session_id=session.pk, stake=eur("1.00"), choices={"target": "98.00"}, idempotency_key="counted"
        )
    from apps.ledger.selectors import wallet_balances

    assert played.balance_after == wallet_balances(player=player).cash
    assert not played.replayed and played.nonce == 1 and played.win_transaction_id is not None
    stored = Round.objects.get(pk=played.pk)
    assert (stored.nonce, stored.balance_after_minor, stored.outcome) == (1, played.balance_after_minor, played.outcome)
    replay = services.round_play(
        player=player, session_id=session.pk, stake=eur("1.00"), choices={"target": "98.00"}, idempotency_key="counted"
    )
    assert replay.replayed and replay.pk == played.pk


def test_a_round_over_a_wager_limit_is_refused_though_the_plain_round_takes_one_call(player, fund, house_games):
    """The one-call round only passes players without limits, time-out or exclusion; a limit sends it to protection_check."""
    from apps.core.errors import LimitExceeded
    from apps.ledger.selectors import wallet_balances
    from apps.limits import services as limits_services

    fund(player, "50.00")
    session = services.session_open(player=player, game=house_games["dice"])
    limits_services.limit_set(player=player, kind="wager", period="day", amount=eur("2.00"))
    for n in range(2):
        services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={"target": "2.00"}, idempotency_key=f"k{n}")
    with pytest.raises(LimitExceeded):
        services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="over")
    assert Round.objects.filter(session=session).count() == 2
    payouts = sum(Round.objects.filter(session=session).values_list("payout_minor", flat=True))
    assert wallet_balances(player=player).cash.minor == 5000 - 200 + payouts


def test_a_suspended_player_with_an_open_session_cannot_play(player, fund, house_games, staff_user, approve):
    """The status is read after the protection lock inside games_round_post; a suspension answers account_blocked."""
    from apps.core.errors import AccountBlocked
    from apps.players.services import player_suspend

    approve(player)  # a verified player: the one-call path is the one under test
    fund(player, "50.00")
    session = services.session_open(player=player, game=house_games["dice"])
    player_suspend(player=player, actor=staff_user(superuser=True), reason="Investigation")
    with pytest.raises(AccountBlocked):
        services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="k")
    assert not Round.objects.filter(session=session).exists()


@pytest.mark.parametrize("rule", ["unverified", "reality_check"])
def test_the_one_call_round_leaves_the_markets_rules_to_the_step_by_step_path(player, fund, house_games, approve, rule,
                                                                              django_assert_max_num_queries):
    """games_round_post answers 'fallback' for an unverified player (identity rules) and a player with reality checks
    on (migration games 0005), so stake_check sees them: more round trips, never fewer checks."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from apps.limits.models import PlayerProtection

    if db.vendor != "postgresql":
        pytest.skip("the one-call round is PostgreSQL's")
    if rule == "reality_check":
        approve(player)
    fund(player, "50.00")
    session = services.session_open(player=player, game=house_games["dice"])
    if rule == "reality_check":
        PlayerProtection.objects.filter(player_id=player.pk).update(reality_check_minutes=60)
    services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="warm")
    with CaptureQueriesContext(db) as queries:
        played = services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="k")
    sqls = [q["sql"] for q in queries.captured_queries]
    called = next(n for n, sql in enumerate(sqls) if "games_round_post" in sql)
    assert any("limits_playerprotection" in sql and "FOR UPDATE" in sql for sql in sqls[called + 1:])  # stake_check ran
    assert not played.replayed and played.nonce == 1
