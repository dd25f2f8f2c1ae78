from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from apps.core.errors import IdempotencyConflict, InsufficientFunds, ValidationFailed
from apps.core.money import Money
from apps.ledger import services
from apps.ledger.checks import verify_ledger
from apps.ledger.models import AccountKind, Entry, LedgerTransaction, TransactionKind
from apps.ledger.selectors import wallet_balances


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


pytestmark = pytest.mark.django_db


def test_deposit_credits_cash_and_balances(player):
    txn = services.deposit_post(player=player, amount=eur("25.50"), idempotency_key="k1", reference="deposit:1")
    entries = list(txn.entries.order_by("amount"))
    assert [e.amount for e in entries] == [-2550, 2550]
    assert sum(e.amount for e in entries) == 0
    assert wallet_balances(player=player).cash == eur("25.50")
    assert verify_ledger().ok


def test_replay_returns_original_and_posts_nothing(player):
    first = services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="same", reference="d")
    again = services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="same", reference="d")
    assert again.pk == first.pk and again.replayed is True
    assert LedgerTransaction.objects.count() == 1
    assert wallet_balances(player=player).cash == eur("10.00")


def test_same_key_different_payload_is_a_conflict(player):
    services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="same", reference="d")
    with pytest.raises(IdempotencyConflict):
        services.deposit_post(player=player, amount=eur("11.00"), idempotency_key="same", reference="d")
    assert wallet_balances(player=player).cash == eur("10.00")


def test_bet_beyond_cash_is_refused_and_leaves_nothing(player, fund):
    fund(player, "5.00")
    before = LedgerTransaction.objects.count()
    with pytest.raises(InsufficientFunds):
        services.bet_post(player=player, amount=eur("5.01"), idempotency_key="bet-1", reference="round:1")
    assert LedgerTransaction.objects.count() == before
    assert wallet_balances(player=player).cash == eur("5.00")


def test_unbalanced_transaction_is_refused(player):
    cash = services.player_accounts(player=player).cash
    clearing = services.system_account(kind=AccountKind.PSP_CLEARING, currency="EUR")
    with pytest.raises(ValidationFailed):
        services.transaction_post(
            kind=TransactionKind.DEPOSIT,
            idempotency_key="unbalanced",
            postings=[services.Posting(cash, 100), services.Posting(clearing, -99)],
        )
    assert not LedgerTransaction.objects.exists()


def test_wrong_currency_is_refused(player):
    with pytest.raises(ValidationFailed):
        services.deposit_post(player=player, amount=Money(Decimal("10.00"), "USD"), idempotency_key="usd", reference="d")


def test_exception_half_way_leaves_no_entries(player, monkeypatch):
    """A crash after the transaction row and before the balances leaves nothing behind."""

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.Account.objects, "bulk_update", explode)
    with pytest.raises(RuntimeError):
        services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="crash", reference="d")
    assert not LedgerTransaction.objects.exists()
    assert not Entry.objects.exists()
    assert wallet_balances(player=player).cash == eur("0.00")


def test_adjustment_needs_reason_and_actor(player, staff_user):
    operator = staff_user(superuser=True)
    with pytest.raises(ValidationFailed):
        services.adjustment_post(player=player, amount_minor=500, actor=operator, reason=" ", idempotency_key="a1")
    txn = services.adjustment_post(player=player, amount_minor=500, actor=operator, reason="Goodwill", idempotency_key="a2")
    assert txn.created_by == operator and txn.reason == "Goodwill"
    assert wallet_balances(player=player).cash == eur("5.00")
    with pytest.raises(InsufficientFunds):
        services.adjustment_post(player=player, amount_minor=-501, actor=operator, reason="Claw back", idempotency_key="a3")


@pytest.mark.django_db(transaction=True)
def test_database_refuses_update_and_delete_of_entries(player):
    services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="k", reference="d")
    for sql in (
        "UPDATE ledger_entry SET amount = amount * 2",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_ledgertransaction SET reference = 'forged'",
        "DELETE FROM ledger_ledgertransaction",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert Entry.objects.count() == 2
    assert LedgerTransaction.objects.get().reference == "d"


def test_orm_update_of_entry_is_refused_too(player):
    txn = services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="k", reference="d")
    with pytest.raises(DatabaseError), transaction.atomic():
        Entry.objects.filter(transaction=txn).update(amount=1)


def test_verify_ledger_detects_a_tampered_cache(player, fund):
    fund(player, "10.00")
    assert verify_ledger().ok
    services.Account.objects.filter(player=player, kind=AccountKind.PLAYER_CASH).update(balance=99999)
    report = verify_ledger()
    assert not report.ok
    assert any("caches 99999" in breach for breach in report.breaches)
