import pytest

from apps.ledger.models import LedgerTransaction, TransactionKind
from apps.ledger.selectors import wallet_balances
from apps.payments.models import Deposit, DepositStatus
from apps.players.services import player_self_exclude, player_suspend

from .helpers import client_for, eur, new_key, post_money

pytestmark = pytest.mark.django_db

URL = "/api/v1/wallet/deposits"


def deposit(client, amount="10.00", method="sandbox", key=None, **extra):
    return post_money(client, URL, {"amount": amount, "method": method, **extra}, key or new_key("dep"))


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_sandbox_deposit_completes_at_once_and_credits_cash(player_client):
    response = deposit(player_client, "25.50")
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "status": "completed", "amount": "25.50"}
    dep = Deposit.objects.get(pk=body["id"])
    assert dep.ledger_transaction.reference == f"deposit:{dep.pk}"
    assert dep.ledger_transaction.idempotency_key == f"deposit:{dep.pk}"
    assert dep.completed_at is not None and dep.psp_reference
    assert dep.ip_address == "127.0.0.1"
    assert wallet_balances(player=player_client.player).cash == eur("25.50")


def test_async_sandbox_deposit_waits_for_the_psp(player_client):
    response = deposit(player_client, "10.00", method="sandbox_async")
    assert response.status_code == 201
    assert response.json()["status"] == "initiated"
    assert wallet_balances(player=player_client.player).cash == eur("0.00")
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.DEPOSIT).exists()


def test_currency_field_naming_the_wallet_currency_is_accepted(player_client):
    assert deposit(player_client, "10.00", currency="EUR").status_code == 201


@pytest.mark.parametrize(
    "amount",
    [10.5, 10, "-5.00", "0.00", "0", "1e3", "10.001", " 10", "10 ", "NaN", "Infinity", "", None, True, "1,000.00", "+5", "0x10", "10."],
    ids=repr,
)
def test_amount_validation_table(player_client, amount):
    response = deposit(player_client, amount)
    assert response.status_code == 400, response.content
    assert error_code(response) == "validation_error"
    assert "amount" in response.json()["error"]["details"]
    assert not Deposit.objects.exists()


def test_missing_amount_is_a_validation_error(player_client):
    response = post_money(player_client, URL, {"method": "sandbox"}, new_key())
    assert response.status_code == 400 and error_code(response) == "validation_error"


@pytest.mark.parametrize("currency", ["USD", "eur", ""])
def test_currency_other_than_the_wallet_is_a_validation_error(player_client, currency):
    response = deposit(player_client, "10.00", currency=currency)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert "currency" in response.json()["error"]["details"]
    assert not Deposit.objects.exists()


@pytest.mark.parametrize("method", ["card", "", None, 1])
def test_unknown_method_is_a_validation_error(player_client, method):
    response = deposit(player_client, "10.00", method=method)
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert "method" in response.json()["error"]["details"]


def test_jpy_amounts_have_no_decimals(make_player):
    client = client_for(make_player(currency="JPY"))
    assert deposit(client, "1000.5").status_code == 400
    response = deposit(client, "1000")
    assert response.status_code == 201 and response.json()["amount"] == "1000"


# --- idempotency ---


def test_replay_returns_the_identical_answer_and_moves_money_once(player_client):
    first = deposit(player_client, "10.00", key="same-key")
    again = deposit(player_client, "10.00", key="same-key")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Deposit.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind=TransactionKind.DEPOSIT).count() == 1
    assert wallet_balances(player=player_client.player).cash == eur("10.00")


def test_same_key_with_a_different_body_is_a_conflict(player_client):
    deposit(player_client, "10.00", key="same-key")
    response = deposit(player_client, "11.00", key="same-key")
    assert response.status_code == 409 and error_code(response) == "idempotency_conflict"
    assert wallet_balances(player=player_client.player).cash == eur("10.00")


def test_keys_are_per_player(player_client, make_player):
    other = client_for(make_player())
    assert deposit(player_client, "10.00", key="shared").status_code == 201
    assert deposit(other, "20.00", key="shared").status_code == 201
    assert wallet_balances(player=other.player).cash == eur("20.00")


def test_missing_idempotency_key_is_a_validation_error(player_client):
    response = post_money(player_client, URL, {"amount": "10.00", "method": "sandbox"}, key=None)
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert not Deposit.objects.exists()


def test_overlong_idempotency_key_is_a_validation_error(player_client):
    response = deposit(player_client, "10.00", key="k" * 65)
    assert response.status_code == 400 and error_code(response) == "validation_error"


def test_replay_after_self_exclusion_still_answers_as_before(player_client):
    first = deposit(player_client, "10.00", key="before")
    player_self_exclude(player=player_client.player, actor=None, reason="test")
    again = deposit(player_client, "10.00", key="before")
    assert again.status_code == 201 and again.json() == first.json()
    assert Deposit.objects.count() == 1


# --- gates ---


def test_self_excluded_player_cannot_deposit(player_client):
    player_self_exclude(player=player_client.player, actor=None, reason="player asked")
    response = deposit(player_client, "10.00")
    assert response.status_code == 403 and error_code(response) == "self_excluded"
    assert not Deposit.objects.exists()


def test_suspended_player_cannot_deposit(player_client):
    player_suspend(player=player_client.player, actor=None, reason="fraud check")
    response = deposit(player_client, "10.00")
    assert response.status_code == 403 and error_code(response) == "account_blocked"


def test_deposit_limit_is_enforced(player_client):
    from apps.limits import services as limits_services

    limits_services.limit_set(player=player_client.player, kind="deposit", period="day", amount=eur("20.00"))
    assert deposit(player_client, "15.00").status_code == 201
    response = deposit(player_client, "10.00")
    assert response.status_code == 422 and error_code(response) == "limit_exceeded"
    assert Deposit.objects.count() == 1
    assert wallet_balances(player=player_client.player).cash == eur("15.00")


def test_deposits_awaiting_the_psp_count_towards_the_deposit_limit(player_client):
    from apps.limits import services as limits_services

    limits_services.limit_set(player=player_client.player, kind="deposit", period="day", amount=eur("20.00"))
    assert deposit(player_client, "15.00", method="sandbox_async").status_code == 201
    response = deposit(player_client, "10.00", method="sandbox_async")
    assert response.status_code == 422 and error_code(response) == "limit_exceeded"
    assert response.json()["error"]["details"]["used"] == "15.00"


def test_refused_request_can_be_retried_with_the_same_key(player_client, monkeypatch):
    from apps.core.errors import LimitExceeded
    from apps.limits import services as limits_services

    def refuse(**kwargs):
        raise LimitExceeded()

    with monkeypatch.context() as patch:
        patch.setattr(limits_services, "protection_check", refuse)
        assert deposit(player_client, "10.00", key="retry").status_code == 422
    assert deposit(player_client, "10.00", key="retry").status_code == 201


@pytest.fixture
def low_threshold(db):
    """The default licence's due-diligence threshold at 100 EUR (the player fixture is a DE player, on it)."""
    from decimal import Decimal

    from apps.markets.models import Market
    from apps.markets.services import market_update

    market_update(market=Market.objects.get(code="intl"), actor=None, reason="test", due_diligence_threshold_eur=Decimal("100.00"))


def test_deposits_beyond_the_kyc_threshold_need_kyc(player_client, low_threshold):
    assert deposit(player_client, "60.00").status_code == 201
    assert deposit(player_client, "40.00").status_code == 201  # exactly at the threshold is still fine
    response = deposit(player_client, "0.01")
    assert response.status_code == 403 and error_code(response) == "kyc_required"
    assert response.json()["error"]["details"] == {"threshold": "100.00", "currency": "EUR"}
    assert wallet_balances(player=player_client.player).cash == eur("100.00")


def test_kyc_approved_player_may_deposit_beyond_the_threshold(player_client, low_threshold, kyc_approved):
    assert deposit(player_client, "150.00").status_code == 201


def test_pending_async_deposits_count_towards_the_threshold(player_client, low_threshold):
    assert deposit(player_client, "80.00", method="sandbox_async").status_code == 201
    response = deposit(player_client, "30.00", method="sandbox_async")
    assert response.status_code == 403 and error_code(response) == "kyc_required"


def test_failed_deposits_do_not_count_towards_the_threshold(player_client, low_threshold):
    from apps.payments.services import deposit_fail

    dep_id = deposit(player_client, "80.00", method="sandbox_async").json()["id"]
    deposit_fail(deposit_id=dep_id, reason="card declined")
    assert deposit(player_client, "90.00").status_code == 201


def test_history_records_the_player_as_the_initiator(player_client):
    dep = Deposit.objects.get(pk=deposit(player_client, "10.00").json()["id"])
    first = dep.history.earliest()
    assert first.history_user_id == player_client.player.user_id
    assert first.status == DepositStatus.INITIATED
    assert dep.history.latest().status == DepositStatus.COMPLETED


def test_a_method_the_deployment_does_not_offer_is_refused(player_client, settings):
    settings.PAYMENTS_DEPOSIT_METHODS = ["sandbox_async"]
    response = deposit(player_client, "10.00", method="sandbox")
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert "method" in response.json()["error"]["details"]
    assert deposit(player_client, "10.00", method="sandbox_async").status_code == 201
