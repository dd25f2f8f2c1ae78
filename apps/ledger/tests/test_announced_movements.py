"""transaction_posted carries what each posting did to the player wallets: the same as reading it back.

apps.backoffice.realtime uses the announced movements instead of querying the entries after every commit;
each posting path must announce exactly what selectors.transaction_wallet_movements finds in the database.
"""

from __future__ import annotations

import pytest

from apps.ledger import selectors, services
from apps.ledger.models import AccountKind, TransactionKind

from .conftest import eur

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced(django_capture_on_commit_callbacks):
    """Runs postings with their on-commit callbacks, returns {transaction id: announced movements}."""
    heard: dict[int, tuple] = {}

    def receiver(sender, transaction_id, movements=None, **kwargs):
        heard[transaction_id] = movements

    services.transaction_posted.connect(receiver, dispatch_uid="test.announced", weak=False)
    try:
        yield heard
    finally:
        services.transaction_posted.disconnect(dispatch_uid="test.announced")


def _read_back(transaction_id: int) -> set:
    return set(selectors.transaction_wallet_movements(transaction_id=transaction_id))


def test_every_posting_path_announces_what_its_entries_say(make_player, announced, write_path, django_capture_on_commit_callbacks):
    player, other = make_player(), make_player()
    with django_capture_on_commit_callbacks(execute=True):
        services.deposit_post(player=player, amount=eur("100.00"), idempotency_key="dep", reference="d")
        services.deposit_post(player=other, amount=eur("5.00"), idempotency_key="dep2", reference="d")
        services.bet_post(player=player, amount=eur("2.50"), idempotency_key="bet", reference="r")
        services.win_post(player=player, amount=eur("7.00"), idempotency_key="win", reference="r")
        services.withdrawal_hold_post(player=player, amount=eur("30.00"), idempotency_key="hold", reference="w")
        cash = services.player_accounts(player=player).cash
        other_cash = services.player_accounts(player=other).cash
        # Two wallets in one posting, through transaction_post: each wallet its own movement.
        services.transaction_post(
            kind=TransactionKind.ADJUSTMENT, idempotency_key="move", reference="m", reason="test", actor=None,
            postings=[services.Posting(cash, -400), services.Posting(other_cash, 400)],
        )
        house = services.system_account(kind=AccountKind.HOUSE_GAME_REVENUE, currency="EUR", shard=services.counterparty_shard(player))
        services.transaction_post(
            kind=TransactionKind.BET, idempotency_key="direct", reference="x",
            postings=[services.Posting(cash, -100), services.Posting(house, 100)],
        )
    assert len(announced) == 7
    for transaction_id, movements in announced.items():
        assert movements is not None
        assert set(movements) == _read_back(transaction_id), transaction_id
    hold = next(m for t, m in announced.items() if m[0].kind == TransactionKind.WITHDRAWAL)
    assert [(m.player_id, m.largest_minor) for m in hold] == [(player.pk, 3000)]  # cash -30.00, hold +30.00: one wallet


def test_a_replay_announces_nothing(make_player, announced, django_capture_on_commit_callbacks):
    player = make_player()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="same", reference="d")
        again = services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="same", reference="d")
    assert again.replayed and list(announced) == [first.pk]
