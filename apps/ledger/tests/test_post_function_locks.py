"""ledger_post locks the player's accounts a posting moves and no others (migration ledger 0009).

Real row locks on PostgreSQL: a bet stays uncommitted in one thread while another connection tries each of the
player's accounts with FOR UPDATE NOWAIT. The moved account (cash) is held; the untouched ones (bonus, hold) are
free, so an unrelated posting on them would not queue behind the bet.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, transaction

from apps.core.money import Money
from apps.ledger import services
from apps.ledger.models import Account, AccountKind

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks of the PL/pgSQL posting function")
def test_a_bet_locks_the_cash_account_and_leaves_bonus_and_hold_free(make_player, fund):
    player = make_player()
    fund(player, "10.00")
    accounts = {a.kind: a.pk for a in Account.objects.filter(player=player)}
    assert {AccountKind.PLAYER_CASH, AccountKind.PLAYER_BONUS, AccountKind.PLAYER_HOLD} <= set(accounts)
    posted, release, failed = threading.Event(), threading.Event(), []

    def bet_and_hold_the_transaction_open():
        try:
            with transaction.atomic():
                services.bet_post(player=player, amount=Money(Decimal("1.00"), "EUR"), idempotency_key="locks:1", reference="locks")
                posted.set()
                release.wait(10)
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)
            posted.set()
        finally:
            connection.close()

    thread = threading.Thread(target=bet_and_hold_the_transaction_open)
    thread.start()
    try:
        assert posted.wait(10) and not failed
        settings = connection.settings_dict
        free: dict[str, bool] = {}
        with psycopg.connect(host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432, user=settings["USER"],
                             dbname=settings["NAME"], autocommit=False) as other:
            for kind in (AccountKind.PLAYER_CASH, AccountKind.PLAYER_BONUS, AccountKind.PLAYER_HOLD):
                try:
                    other.execute("SELECT id FROM ledger_account WHERE id = %s FOR UPDATE NOWAIT", [accounts[kind]])
                    free[kind] = True
                except psycopg.errors.LockNotAvailable:
                    free[kind] = False
                other.rollback()
    finally:
        release.set()
        thread.join(10)
    assert not failed
    assert free == {AccountKind.PLAYER_CASH: False, AccountKind.PLAYER_BONUS: True, AccountKind.PLAYER_HOLD: True}
