"""Real threads on PostgreSQL: duplicate deliveries move money once, and no interleaving overdraws a wallet."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from apps.core.errors import DomainError
from apps.core.testing import run_together as core_run_together
from apps.games import provider_wallet, services
from apps.games.models import GameSession, ProviderTransaction, Round
from apps.games.provider_wallet import WalletRefusal
from apps.ledger.models import LedgerTransaction
from apps.ledger.selectors import wallet_balances

from .conftest import eur

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(action, threads: int = 20) -> Counter:
    """core.testing's runner, each outcome named: "ok", a wallet refusal's reason, or a domain error's code."""

    def name(outcome: object) -> str:
        if isinstance(outcome, WalletRefusal):
            return outcome.reason
        if isinstance(outcome, DomainError):
            return outcome.code
        if isinstance(outcome, Exception):
            return f"error:{outcome.__class__.__name__}:{outcome}"
        return "ok"

    return Counter(name(outcome) for outcome in core_run_together(threads, action))


def test_the_same_transaction_uuid_from_20_threads_moves_money_once(caleta_provider, player, fund):
    fund(player, "100.00")
    token = services.launch_create(player=player, game=caleta_provider.game)

    outcomes = run_together(
        lambda n: provider_wallet.wallet_bet(
            provider=caleta_provider.provider, player=player, transaction_id="same-uuid", round_id="r1", amount=Decimal("10.00"),
            currency="EUR", game=caleta_provider.game, token=token,
        )
    )
    assert outcomes == Counter({"ok": 20})
    assert wallet_balances(player=player).cash == eur("90.00")
    assert ProviderTransaction.objects.filter(transaction_id="same-uuid").count() == 1
    assert LedgerTransaction.objects.filter(kind="bet").count() == 1

    wins = run_together(
        lambda n: provider_wallet.wallet_win(
            provider=caleta_provider.provider, player=player, transaction_id="same-win", round_id="r1", amount=Decimal("25.00"),
            currency="EUR", game=caleta_provider.game, reference_transaction_id="same-uuid",
        )
    )
    assert wins == Counter({"ok": 20})
    assert wallet_balances(player=player).cash == eur("115.00")


def test_a_bet_racing_its_own_rollback_ends_with_the_stake_home(generic_provider, player, fund):
    """Whichever lands first, the player ends where they started: bet then refund, or rollback then refused bets."""
    fund(player, "100.00")

    def action(n: int) -> None:
        if n % 2:
            provider_wallet.wallet_rollback(provider=generic_provider.provider, player=player, transaction_id=f"rb-{n}", round_id="r1",
                                            reference_transaction_id="contested")
        else:
            provider_wallet.wallet_bet(provider=generic_provider.provider, player=player, transaction_id="contested", round_id="r1",
                                       amount=Decimal("10.00"), currency="EUR")

    outcomes = run_together(action, threads=10)
    assert set(outcomes) <= {"ok", "transaction_rolled_back"}
    assert wallet_balances(player=player).cash == eur("100.00")
    assert LedgerTransaction.objects.filter(kind="rollback").count() == LedgerTransaction.objects.filter(kind="bet").count() <= 1


def test_concurrent_rounds_on_one_wallet_never_overdraw(player, fund, house_games):
    """Ten sessions of one player, one round each, 30.00 in the wallet: the ledger's lock decides who plays."""
    fund(player, "30.00")
    sessions = [services.session_open(player=player, game=house_games["dice"]).pk for _ in range(10)]
    # Under 0.01 wins only on a roll of 0.00 (1 in 10,001): nearly every stake is lost, so the wallet empties.
    choices = {"target": "0.01", "direction": "under"}

    outcomes = run_together(
        lambda n: services.round_play(player=player, session_id=sessions[n], stake=eur("10.00"), choices=choices, idempotency_key=f"k{n}"),
        threads=10,
    )
    assert set(outcomes) <= {"ok", "insufficient_funds"}
    paid = sum(Round.objects.values_list("payout_minor", flat=True))
    cash = wallet_balances(player=player).cash
    assert cash.minor >= 0
    assert cash.minor == 3000 - 1000 * outcomes["ok"] + paid
    assert outcomes["ok"] >= 3


def test_concurrent_rounds_in_one_session_get_consecutive_nonces(player, fund, house_games):
    fund(player, "100.00")
    session = services.session_open(player=player, game=house_games["roulette"])
    outcomes = run_together(
        lambda n: services.round_play(player=player, session_id=session.pk, stake=eur("1.00"), choices={}, idempotency_key=f"k{n}"),
        threads=10,
    )
    assert outcomes == Counter({"ok": 10})
    assert sorted(Round.objects.filter(session=session).values_list("nonce", flat=True)) == list(range(10))
    assert GameSession.objects.get(pk=session.pk).nonce == 10
