"""The one-call round (PostgreSQL): the session read, the prepared call, and the nonce race.

round_play draws the outcome from the session as read without a lock; games_round_post answers 'retry'
when another round of the session committed in between. The retry reads the session under its lock, in a
transaction, and plays the round with the fast call: never twice lost, never the step-by-step path.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.games import services
from apps.games.models import Round
from apps.games.verify import verify_session

from .conftest import eur

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-call round is PostgreSQL's"),
]


@pytest.fixture
def session(player, fund, house_games, approve):
    approve(player)  # the plain case: a KYC-approved player without limits (migration games 0005)
    fund(player, "50.00")
    return services.session_open(player=player, game=house_games["dice"])


def _no_step_by_step(monkeypatch):
    def refuse(**kwargs):
        raise AssertionError("The plain round took the step-by-step path.")

    monkeypatch.setattr(services, "_round_play_step_by_step", refuse)


def test_a_round_that_loses_the_nonce_race_is_played_under_the_session_lock(player, session, monkeypatch):
    services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="first")
    _no_step_by_step(monkeypatch)
    monkeypatch.setattr(services, "_contended", {})
    real_read = services._session_read
    reads: list[bool] = []

    def racing_read(player_, session_id, *, lock=False):
        read = real_read(player_, session_id, lock=lock)
        reads.append(lock)
        if len(reads) == 1:
            # Another round of the same session commits between this read and the call.
            services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="rival")
        return read

    monkeypatch.setattr(services, "_session_read", racing_read)
    played = services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="racer")

    assert reads == [False, False, True]  # racer unlocked, rival unlocked, racer again under the lock
    assert not played.replayed
    nonces = dict(Round.objects.filter(session=session).values_list("idempotency_key", "nonce"))
    assert nonces == {"first": 0, "rival": 1, "racer": 2}
    assert played.nonce == 2 and played.session.nonce == 3
    stored = Round.objects.get(pk=played.pk)
    assert (stored.outcome, stored.payout_minor, stored.balance_after_minor) == (
        played.outcome, played.payout_minor, played.balance_after_minor
    )
    # The session lost a race in this process a moment ago: its next round reads it under the lock straight away.
    after = services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="after")
    assert reads == [False, False, True, True] and after.nonce == 3
    # The racer's outcome was drawn again for nonce 2, not kept from its stale read: the provably fair check agrees.
    services.session_close(player=player, session_id=session.pk)
    verification = verify_session(session.pk)
    assert verification.ok, verification.mismatches
    assert verification.rounds == 4


def test_the_fast_round_reads_its_session_in_one_query_and_posts_in_one_prepared_call(player, session, monkeypatch):
    services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="warm")
    _no_step_by_step(monkeypatch)
    with CaptureQueriesContext(connection) as captured:
        played = services.round_play(
            player=player, session_id=session.pk, stake=eur("1.00"), choices={"target": "50.00"}, idempotency_key="counted"
        )
    sqls = [query["sql"] for query in captured]
    assert len(sqls) == 2, sqls
    assert "games_gamesession" in sqls[0] and "FOR UPDATE" not in sqls[0]
    assert "games_round_post" in sqls[1]
    # The game came with the session, its JSON decoded as the ORM would (the stake range was read from it).
    assert played.game.stake_limits == session.game.stake_limits and isinstance(played.game.stake_limits, dict)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("games_round_post" in statement for statement in prepared), prepared


def test_an_unknown_or_foreign_session_is_not_found_through_the_fast_read(player, make_player, session):
    from apps.core.errors import NotFound

    other = make_player()
    with pytest.raises(NotFound):
        services.round_play(player=other, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="k")
    with pytest.raises(NotFound):
        services.round_play(player=player, session_id=session.pk + 10_000, stake=eur("1.00"), choices={}, idempotency_key="k")
    assert not Round.objects.filter(session=session).exists()


def test_the_one_call_round_announces_its_postings_with_their_wallet_movements(
    player, session, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.ledger import selectors as ledger_selectors
    from apps.ledger import services as ledger_services

    services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key="warm")
    _no_step_by_step(monkeypatch)
    heard = {}
    ledger_services.transaction_posted.connect(
        lambda sender, transaction_id, movements=None, **kw: heard.update({transaction_id: movements}), dispatch_uid="t.round", weak=False
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            rounds = [
                services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key=f"k{n}")
                for n in range(12)
            ]
    finally:
        ledger_services.transaction_posted.disconnect(dispatch_uid="t.round")
    posted = {r.bet_transaction_id for r in rounds} | {r.win_transaction_id for r in rounds if r.win_transaction_id}
    assert any(r.win_transaction_id for r in rounds) and set(heard) == posted  # wins among them, every posting heard
    for transaction_id, movements in heard.items():
        assert set(movements) == set(ledger_selectors.transaction_wallet_movements(transaction_id=transaction_id))
