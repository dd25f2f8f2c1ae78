"""Real threads against PostgreSQL: the ledger's locks, not luck, keep money right under contention.

Each test starts its threads at one barrier (conftest.run_together); every thread has its own
connection and closes it. A deadlock would surface as PostgreSQL's "deadlock detected" error in
one of the threads (after deadlock_timeout), a lost update as a balance that verify_ledger refuses.
"""

from __future__ import annotations

import random

import pytest
from django.db import transaction

from apps.core.errors import IdempotencyConflict, InsufficientFunds
from apps.ledger import services
from apps.ledger.checks import verify_ledger
from apps.ledger.models import Account, AccountKind, Entry, LedgerTransaction, TransactionKind
from apps.ledger.selectors import wallet_balances

from .conftest import eur, run_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def both_write_paths(write_path):
    """Every test here runs on PostgreSQL's one-statement path and on the step-by-step one."""


def test_fifty_stakes_and_withdrawal_holds_never_overdraw_one_wallet(player, fund):
    """Bets and withdrawal holds race for one wallet holding less than they ask for in total."""
    fund(player, "100.00")
    amounts = ["5.00" if i % 3 else "3.00" for i in range(50)]  # 50 threads ask for 216.00 in total

    def spend(i: int):
        key, amount = f"race:{i}", eur(amounts[i])
        if i % 2:
            return services.withdrawal_hold_post(player=player, amount=amount, idempotency_key=key, reference=f"withdrawal:{i}")
        return services.bet_post(player=player, amount=amount, idempotency_key=key, reference=f"round:{i}")

    results = run_together(50, spend)

    unexpected = [r for r in results if not isinstance(r, LedgerTransaction | InsufficientFunds)]
    assert not unexpected, unexpected
    taken = [eur(amounts[i]) for i, r in enumerate(results) if isinstance(r, LedgerTransaction)]
    held = [eur(amounts[i]) for i, r in enumerate(results) if isinstance(r, LedgerTransaction) and i % 2]
    refused = [(i, r) for i, r in enumerate(results) if isinstance(r, InsufficientFunds)]
    moved = sum((m.minor for m in taken), 0)

    balances = wallet_balances(player=player)
    assert 0 < moved <= 10000
    assert balances.cash.minor == 10000 - moved >= 0
    assert balances.held.minor == sum(m.minor for m in held)
    assert refused, "the wallet could not cover every request, so some must have been refused"
    # A refusal saw, under the lock, less than it asked for; and nothing is refunded during the race,
    # so the cash left at the end is below every refused amount.
    for i, error in refused:
        assert eur(error.details["available"]["player_cash"]).minor < eur(amounts[i]).minor
        assert balances.cash.minor < eur(amounts[i]).minor
    assert LedgerTransaction.objects.count() == 1 + len(taken)
    assert verify_ledger().ok


def test_one_key_replayed_by_twenty_threads_moves_money_once(player):
    def deposit(i: int):
        return services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="psp:one", reference="deposit:1")

    results = run_together(20, deposit)

    assert all(isinstance(r, LedgerTransaction) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * 19
    assert LedgerTransaction.objects.count() == 1 and Entry.objects.count() == 2
    assert wallet_balances(player=player).cash == eur("10.00")
    assert verify_ledger().ok


def test_one_key_with_two_payloads_posts_the_first_and_refuses_the_other(player):
    amounts = ["10.00", "99.00"]

    def deposit(i: int):
        return services.deposit_post(player=player, amount=eur(amounts[i % 2]), idempotency_key="psp:two", reference="deposit:2")

    results = run_together(20, deposit)

    assert all(isinstance(r, LedgerTransaction | IdempotencyConflict) for r in results), results
    winners = {r.pk for r in results if isinstance(r, LedgerTransaction)}
    assert len(winners) == 1
    credited = wallet_balances(player=player).cash
    assert credited in (eur("10.00"), eur("99.00"))
    # Exactly the threads that sent the other payload were refused.
    losing = amounts.index("99.00" if credited == eur("10.00") else "10.00")
    assert [isinstance(r, IdempotencyConflict) for r in results] == [i % 2 == losing for i in range(20)]
    assert LedgerTransaction.objects.count() == 1


def test_cross_ordered_postings_on_many_wallets_never_deadlock(make_player, fund):
    """Transfers A→B and B→A, several counterparties listed in any order, and stakes and wins, all at once."""
    players = [make_player() for _ in range(6)]
    for player in players:
        fund(player, "50.00")
    cash = [services.player_accounts(player=p).cash for p in players]
    house = services.system_account(kind=AccountKind.HOUSE_GAME_REVENUE, currency="EUR")
    clearing = services.system_account(kind=AccountKind.PSP_CLEARING, currency="EUR")
    adjustments = services.system_account(kind=AccountKind.ADJUSTMENTS, currency="EUR")
    rounds = 15

    def trade(i: int):
        rng = random.Random(i)
        for n in range(rounds):
            a, b = rng.sample(range(len(players)), 2)
            key = f"mesh:{i}:{n}"
            shape = (i + n) % 4
            if shape == 0:  # player to player, listed in either order
                postings = [services.Posting(cash[a], -7), services.Posting(cash[b], 7)]
                services.transaction_post(kind=TransactionKind.ADJUSTMENT, idempotency_key=key, postings=postings[:: rng.choice([1, -1])])
            elif shape == 1:  # two players and three counterparties, shuffled
                postings = [
                    services.Posting(cash[a], -5),
                    services.Posting(house, 2),
                    services.Posting(cash[b], 3),
                    services.Posting(clearing, -1),
                    services.Posting(adjustments, 1),
                ]
                rng.shuffle(postings)
                services.transaction_post(kind=TransactionKind.ADJUSTMENT, idempotency_key=key, postings=postings)
            elif shape == 2:
                services.bet_post(player=players[a], amount=eur("0.10"), idempotency_key=key, reference=key)
            else:
                services.win_post(player=players[b], amount=eur("0.10"), idempotency_key=key, reference=key)
        return rounds

    results = run_together(16, trade, timeout=120)

    assert results == [rounds] * 16, [r for r in results if r != rounds]
    assert LedgerTransaction.objects.count() == len(players) + 16 * rounds
    # Money was only moved around: the players' cash plus the house side still sums to zero.
    assert sum(Account.objects.values_list("balance", flat=True)) == 0
    report = verify_ledger()
    assert report.ok, report.breaches


def test_a_crash_half_way_in_some_threads_leaves_no_trace_of_them(player, fund, crash_after_write):
    fund(player, "100.00")
    crash_after_write(lambda key: int(key.rsplit(":", 1)[1]) % 2)

    def stake(i: int):
        # Inside a caller's transaction (as games.stake_place posts): the crash comes before its COMMIT. On PostgreSQL a
        # posting outside any transaction is one autocommitted statement, with no "after the write, before COMMIT".
        with transaction.atomic():
            return services.bet_post(player=player, amount=eur("1.00"), idempotency_key=f"crash:{i}", reference=f"round:{i}")

    results = run_together(20, stake)

    assert [isinstance(r, LedgerTransaction) for r in results] == [i % 2 == 0 for i in range(20)]
    assert all(isinstance(r, RuntimeError) for r in results[1::2])
    assert not LedgerTransaction.objects.filter(idempotency_key__in=[f"crash:{i}" for i in range(1, 20, 2)]).exists()
    assert wallet_balances(player=player).cash == eur("90.00")
    assert Entry.objects.count() == 2 + 2 * 10
    assert verify_ledger().ok


def test_a_posting_outside_a_transaction_is_one_statement_committed_when_it_returns(player, fund, write_path):
    """On PostgreSQL a posting needs no BEGIN/COMMIT of its own: ledger_post is one statement, and one statement is
    atomic. Another connection sees it as soon as the call returns; the step-by-step path keeps its transaction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fund(player, "10.00")
    with CaptureQueriesContext(connection) as queries:
        posted = services.bet_post(player=player, amount=eur("1.00"), idempotency_key="solo", reference="round:solo")
    assert not connection.in_atomic_block
    if write_path == "one_statement":
        # The posting's own statement comes first (what follows is the on-commit AML evaluation, eager in tests).
        assert queries.captured_queries[0]["sql"].startswith("SELECT * FROM ledger_post(")
    seen = run_together(1, lambda _: LedgerTransaction.objects.filter(pk=posted.pk).exists())
    assert seen == [True]
    assert wallet_balances(player=player).cash == eur("9.00") and verify_ledger().ok
