from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from apps.core.errors import IdempotencyConflict, InsufficientFunds, ValidationFailed
from apps.core.money import Money
from apps.ledger import engine, services
from apps.ledger.checks import verify_ledger
from apps.ledger.models import Account, AccountKind, Entry, LedgerTransaction, TransactionKind
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


def test_exception_half_way_leaves_no_entries(player, crash_after_write):
    """A crash after the rows are written and before the commit leaves nothing behind (on both write paths)."""
    crash_after_write(lambda key: True)
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
    Account.objects.filter(player=player, kind=AccountKind.PLAYER_CASH).update(balance=99999)
    report = verify_ledger()
    assert not report.ok
    assert any("caches 99999" in breach for breach in report.breaches)


def test_a_replay_answers_as_before_even_when_the_money_is_gone(player, fund):
    fund(player, "5.00")
    first = services.bet_post(player=player, amount=eur("5.00"), idempotency_key="all-in", reference="round:1")
    again = services.bet_post(player=player, amount=eur("5.00"), idempotency_key="all-in", reference="round:1")
    assert again.pk == first.pk and again.replayed is True
    assert wallet_balances(player=player).cash == eur("0.00")


def test_posted_entries_carry_ids_and_running_balances(player, fund):
    fund(player, "10.00")
    txn = services.bet_post(player=player, amount=eur("2.50"), idempotency_key="b", reference="round:1")
    stored = {e.pk: (e.account_id, e.amount, e.balance_after) for e in Entry.objects.filter(transaction=txn)}
    returned = {e.pk: (e.account_id, e.amount, e.balance_after) for e in txn.posted_entries}
    assert returned == stored
    cash = services.player_accounts(player=player).cash
    assert stored[next(pk for pk, row in stored.items() if row[0] == cash.pk)] == (cash.pk, -250, 750)


def test_a_posting_to_a_missing_account_posts_nothing(player, fund):
    fund(player, "10.00")
    cash = services.player_accounts(player=player).cash
    ghost = Account(pk=10**12, kind=AccountKind.HOUSE_GAME_REVENUE, currency="EUR")
    with pytest.raises(Account.DoesNotExist):
        services.transaction_post(
            kind=TransactionKind.BET, idempotency_key="ghost", postings=[services.Posting(cash, -100), services.Posting(ghost, 100)]
        )
    assert not LedgerTransaction.objects.filter(idempotency_key="ghost").exists()
    assert wallet_balances(player=player).cash == eur("10.00")


def test_the_step_by_step_write_path_behaves_the_same(player, monkeypatch, staff_user):
    """The path SQLite (the embedded demo database) takes, run here on PostgreSQL."""
    monkeypatch.setattr(engine, "_single_statement", lambda: False)
    deposit = services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="d", reference="deposit:1")
    assert sorted((e.amount, e.balance_after) for e in deposit.posted_entries) == [(-1000, -1000), (1000, 1000)]
    assert all(e.pk for e in deposit.posted_entries)
    assert services.deposit_post(player=player, amount=eur("10.00"), idempotency_key="d", reference="deposit:1").replayed
    services.bet_post(player=player, amount=eur("4.00"), idempotency_key="b", reference="round:1")
    with pytest.raises(InsufficientFunds):
        services.bet_post(player=player, amount=eur("6.01"), idempotency_key="b2", reference="round:2")
    services.adjustment_post(player=player, amount_minor=-100, actor=staff_user(superuser=True), reason="Fee", idempotency_key="a")
    assert wallet_balances(player=player).cash == eur("5.00")
    assert LedgerTransaction.objects.count() == 3
    assert verify_ledger().ok


def test_house_accounts_are_sharded_by_player_and_sum_up(make_player, fund):
    from apps.ledger.models import COUNTERPARTY_SHARDS
    from apps.ledger.selectors import system_balance

    players = [make_player() for _ in range(COUNTERPARTY_SHARDS + 2)]
    for player in players:
        fund(player, "10.00")
        services.bet_post(player=player, amount=eur("1.00"), idempotency_key=f"bet:{player.pk}", reference="round")
        services.bet_post(player=player, amount=eur("2.00"), idempotency_key=f"bet2:{player.pk}", reference="round")
    for player in players:
        shards = set(
            Entry.objects.filter(transaction__kind=TransactionKind.BET, account__player__isnull=True, transaction__reference="round")
            .filter(transaction__idempotency_key__in=[f"bet:{player.pk}", f"bet2:{player.pk}"])
            .values_list("account__shard", flat=True)
        )
        assert shards == {services.counterparty_shard(player)}
    house = Account.objects.filter(player__isnull=True, kind=AccountKind.HOUSE_GAME_REVENUE)
    assert house.count() == COUNTERPARTY_SHARDS
    assert system_balance(kind=AccountKind.HOUSE_GAME_REVENUE, currency="EUR") == eur(f"{3 * len(players)}.00")
    assert system_balance(kind=AccountKind.PSP_CLEARING, currency="EUR") == eur(f"-{10 * len(players)}.00")
    assert verify_ledger().ok


def test_a_player_account_cannot_be_sharded(player):
    from django.db import IntegrityError

    cash = services.player_accounts(player=player).cash
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=cash.pk).update(shard=1)
    with pytest.raises(ValueError, match="outside"):
        services.system_account(kind=AccountKind.HOUSE_GAME_REVENUE, currency="EUR", shard=10**4)


def test_a_stake_posting_costs_few_queries(player, fund, django_assert_max_num_queries):
    """The posting's round trips, pinned so a regression shows: SAVEPOINT, the one ledger_post call, RELEASE."""
    fund(player, "10.00")
    services.bet_post(player=player, amount=eur("1.00"), idempotency_key="warm", reference="round:0")
    with django_assert_max_num_queries(3):
        services.bet_post(player=player, amount=eur("1.00"), idempotency_key="counted", reference="round:1")
    with django_assert_max_num_queries(1):
        services.bet_post(player=player, amount=eur("1.00"), idempotency_key="no-savepoint", reference="round:2", savepoint=False)
    assert wallet_balances(player=player).cash == eur("7.00")


@pytest.mark.parametrize("reference", ["deposit:42", 'quote " back\\slash', "zürich €", "emoji 🎲", "tab\tnewline\ncontrol\x01"])
def test_the_database_fingerprint_is_the_engines(player, fund, reference):
    """ledger_post computes the fingerprint itself (a wallet posting learns its account ids there): it must be _fingerprint's,
    or a replay posted on one path would be refused as a conflict on the other."""
    fund(player, "10.00")
    txn = services.bet_post(player=player, amount=eur("1.00"), idempotency_key="fp", reference=reference)
    postings = [services.Posting(Account.objects.get(pk=e.account_id), e.amount) for e in txn.posted_entries]
    assert LedgerTransaction.objects.get(pk=txn.pk).fingerprint == engine._fingerprint(TransactionKind.BET, postings, reference)
    assert txn.fingerprint == engine._fingerprint(TransactionKind.BET, postings, reference)


def test_a_replay_is_recognised_across_the_two_paths(player, fund, monkeypatch):
    fund(player, "10.00")
    first = services.bet_post(player=player, amount=eur("2.00"), idempotency_key="both", reference="round:1")
    monkeypatch.setattr(engine, "_single_statement", lambda: False)
    again = services.bet_post(player=player, amount=eur("2.00"), idempotency_key="both", reference="round:1")
    assert again.replayed and again.pk == first.pk
    with pytest.raises(IdempotencyConflict):
        services.bet_post(player=player, amount=eur("2.00"), idempotency_key="both", reference="round:2")
    monkeypatch.undo()
    monkeypatch.setattr(engine, "_single_statement", lambda: False)
    stepped = services.win_post(player=player, amount=eur("3.00"), idempotency_key="stepped", reference="round:1")
    monkeypatch.undo()
    assert services.win_post(player=player, amount=eur("3.00"), idempotency_key="stepped", reference="round:1").pk == stepped.pk
    assert wallet_balances(player=player).cash == eur("11.00")


def test_a_refusal_leaves_the_database_transaction_usable(player, fund):
    """ledger_post answers a refusal (insufficient funds, conflicting key) instead of raising in the database, and
    leaves nothing written: without any savepoint (the postings' bodies, unwrapped), the transaction carries on."""
    funded = fund(player, "5.00")
    with transaction.atomic():
        with pytest.raises(InsufficientFunds) as refused:
            services.bet_post.__wrapped__(player=player, amount=eur("6.00"), idempotency_key="too-much", reference="r")
        assert refused.value.details == {"available": {AccountKind.PLAYER_CASH: "5.00"}}
        with pytest.raises(IdempotencyConflict):
            services.deposit_post.__wrapped__(player=player, amount=eur("1.00"), idempotency_key=funded.idempotency_key, reference="x")
        services.bet_post.__wrapped__(player=player, amount=eur("5.00"), idempotency_key="all-in", reference="r")
    assert not LedgerTransaction.objects.filter(idempotency_key="too-much").exists()
    assert wallet_balances(player=player).cash == eur("0.00")
    assert verify_ledger().ok


def test_a_first_posting_opens_the_wallet_and_the_house_shard(make_player, write_path):
    newcomer = make_player()
    assert not Account.objects.filter(player=newcomer).exists()
    services.deposit_post(player=newcomer, amount=eur("3.00"), idempotency_key="first", reference="d")
    assert wallet_balances(player=newcomer).cash == eur("3.00")
    assert Account.objects.filter(player=newcomer).count() == 3
    assert verify_ledger().ok


def test_a_posting_on_postgresql_is_one_prepared_statement_that_the_query_log_still_sees(player, fund):
    """ledger_post goes through a server-side binding cursor (apps.core.dbcall): prepared once per connection,
    then only its parameters travel; wrapped like any Django cursor, so DEBUG logs and tests count it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("ledger_post is PostgreSQL's")
    fund(player, "10.00")
    services.bet_post(player=player, amount=eur("1.00"), idempotency_key="warm", reference="round:0")  # opens the house shard
    with CaptureQueriesContext(connection) as captured:
        txn = services.bet_post(player=player, amount=eur("1.00"), idempotency_key="prepared", reference="round:1", savepoint=False)
    assert len(captured) == 1 and "ledger_post" in captured[0]["sql"]
    assert LedgerTransaction.objects.get(idempotency_key="prepared").pk == txn.pk
    assert txn.created_by is None and txn.metadata == {} and not txn._state.adding
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        rows = cursor.fetchall()
        assert any("ledger_post" in (row[0] or "") for row in rows), rows
