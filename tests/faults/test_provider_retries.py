"""A provider retrying one call 20 times at once, and retrying a timed-out bet while its rollback races it,
over HTTP on both protocols (issue #13, faults). Real threads against PostgreSQL.

Money moves at most once, and the protocol's answers stay consistent: every delivery of one call gets
the same answer (the generic protocol's `{balance, transaction_id}`; Caleta's body, whose
`request_uuid` echoes each request's own), as a provider reconciling by transaction id expects.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
from rest_framework.test import APIClient

from apps.core.testing import run_together
from apps.games import crypto, services
from apps.games.models import ProviderTransaction
from apps.games.tests.conftest import caleta_keys, caleta_provider, eur, generic_provider  # noqa: F401 - fixtures
from apps.ledger.checks import verify_ledger
from apps.ledger.models import LedgerTransaction
from apps.ledger.selectors import wallet_balances

pytestmark = pytest.mark.django_db(transaction=True)


def generic_call(provider, operation: str, body: dict) -> tuple[int, dict]:
    raw = json.dumps(body).encode()
    response = APIClient().post(f"/api/v1/providers/{provider.provider.code}/{operation}", raw, content_type="application/json",
                                HTTP_X_SIGNATURE=crypto.hmac_hex(provider.secret, raw))
    return response.status_code, response.json()


def caleta_call(provider, operation: str, body: dict) -> tuple[int, dict]:
    raw = json.dumps({**body, "request_uuid": str(uuid.uuid4())}).encode()  # each delivery is its own request
    response = APIClient().post(f"/api/v1/providers/caleta/wallet/{operation}", raw, content_type="application/json",
                                HTTP_X_AUTH_SIGNATURE=crypto.rsa_sign(provider.private_pem, raw))
    answer = response.json()
    answer.pop("request_uuid", None)
    return response.status_code, answer


def _one(outcomes: list) -> object:
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, errors
    distinct = {json.dumps(o, sort_keys=True) for o in outcomes}
    assert len(distinct) == 1, Counter(json.dumps(o, sort_keys=True) for o in outcomes)
    return outcomes[0]


def test_generic_bet_and_win_each_delivered_20_times_at_once_move_money_once(generic_provider, player, fund):  # noqa: F811
    fund(player, "100.00")
    base = {"player_id": str(player.public_id), "round_id": "r1", "currency": "EUR"}
    bet = {**base, "transaction_id": "bet-1", "amount": "10.00"}
    status, answer = _one(run_together(20, lambda n: generic_call(generic_provider, "bet", bet)))
    assert status == 200 and answer == {"balance": "90.00", "transaction_id": answer["transaction_id"]}
    win = {**base, "transaction_id": "win-1", "amount": "25.00"}
    status, answer = _one(run_together(20, lambda n: generic_call(generic_provider, "win", win)))
    assert status == 200 and answer["balance"] == "115.00"
    assert wallet_balances(player=player).cash == eur("115.00")
    assert Counter(LedgerTransaction.objects.values_list("kind", flat=True)) == Counter({"deposit": 1, "bet": 1, "win": 1})
    assert verify_ledger().ok


def test_caleta_bet_and_win_each_delivered_20_times_at_once_move_money_once(caleta_provider, player, fund):  # noqa: F811
    fund(player, "100.00")
    token = services.launch_create(player=player, game=caleta_provider.game).token
    base = {"token": token, "user": str(player.public_id), "game_code": caleta_provider.game.provider_game_code, "currency": "EUR",
            "round": "r1"}
    bet = {**base, "transaction_uuid": str(uuid.uuid4()), "amount": 1_000_000, "round_closed": False}
    status, answer = _one(run_together(20, lambda n: caleta_call(caleta_provider, "bet", bet)))
    assert status == 200 and answer["status"] == "RS_OK" and answer["balance"] == 9_000_000
    win = {**base, "transaction_uuid": str(uuid.uuid4()), "reference_transaction_uuid": bet["transaction_uuid"], "amount": 2_500_000,
           "round_closed": True}
    status, answer = _one(run_together(20, lambda n: caleta_call(caleta_provider, "win", win)))
    assert answer["status"] == "RS_OK" and answer["balance"] == 11_500_000
    assert wallet_balances(player=player).cash == eur("115.00")
    assert ProviderTransaction.objects.count() == 2
    assert verify_ledger().ok


def test_generic_bet_retried_after_a_timeout_while_its_rollback_races(generic_provider, player, fund):  # noqa: F811
    """The bet went through but its answer was lost: the provider retries it and, not trusting it, rolls it back."""
    fund(player, "100.00")
    base = {"player_id": str(player.public_id), "round_id": "r1", "currency": "EUR"}
    bet = {**base, "transaction_id": "lost-bet", "amount": "10.00"}
    assert generic_call(generic_provider, "bet", bet)[0] == 200  # the timed-out delivery
    rollback = {**base, "transaction_id": "rb-lost-bet", "rolled_back_transaction_id": "lost-bet"}
    outcomes = run_together(20, lambda n: generic_call(generic_provider, "bet" if n % 2 else "rollback", bet if n % 2 else rollback))
    rollbacks, bets = outcomes[0::2], outcomes[1::2]
    status, answer = _one(rollbacks)
    assert status == 200 and answer["balance"] == "100.00"  # every rollback delivery: the refund, once
    # A bet retry answers as the bet did (before the rollback landed) or as a rolled-back bet; never a second debit.
    for status, answer in bets:
        refused = answer.get("error", {}).get("code") in ("invalid_state", "not_found")
        assert (status, answer.get("balance")) == (200, "90.00") or refused, answer
    assert wallet_balances(player=player).cash == eur("100.00")
    assert Counter(LedgerTransaction.objects.values_list("kind", flat=True)) == Counter({"deposit": 1, "bet": 1, "rollback": 1})
    assert generic_call(generic_provider, "bet", bet) == generic_call(generic_provider, "bet", bet)  # settled: replays agree
    assert verify_ledger().ok


def test_caleta_bet_retried_after_a_timeout_while_its_rollback_races(caleta_provider, player, fund):  # noqa: F811
    fund(player, "100.00")
    token = services.launch_create(player=player, game=caleta_provider.game).token
    base = {"token": token, "user": str(player.public_id), "game_code": caleta_provider.game.provider_game_code, "currency": "EUR",
            "round": "r1"}
    bet = {**base, "transaction_uuid": str(uuid.uuid4()), "amount": 1_000_000, "round_closed": False}
    assert caleta_call(caleta_provider, "bet", bet)[1]["status"] == "RS_OK"
    rollback = {**base, "transaction_uuid": str(uuid.uuid4()), "reference_transaction_uuid": bet["transaction_uuid"]}
    outcomes = run_together(20, lambda n: caleta_call(caleta_provider, "bet" if n % 2 else "rollback", bet if n % 2 else rollback))
    _status, answer = _one(outcomes[0::2])
    assert answer["status"] == "RS_OK" and answer["balance"] == 10_000_000
    for _status, answer in outcomes[1::2]:
        assert answer["status"] in ("RS_OK", "RS_ERROR_TRANSACTION_ROLLED_BACK"), answer
        if answer["status"] == "RS_OK":
            assert answer["balance"] == 9_000_000  # the first bet's answer, replayed
    assert wallet_balances(player=player).cash == eur("100.00")
    assert Counter(LedgerTransaction.objects.values_list("kind", flat=True)) == Counter({"deposit": 1, "bet": 1, "rollback": 1})
    assert verify_ledger().ok
