"""verify_ledger: exit code 0 when every invariant holds, CommandError (non-zero) on any breach."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.ledger import services
from apps.ledger.models import Account, AccountKind

pytestmark = pytest.mark.django_db


def test_a_sound_ledger_passes(player, fund):
    fund(player, "10.00")
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()
    assert "Checked 1 transactions, 2 entries" in out.getvalue()


def test_a_tampered_cached_balance_is_a_breach(player, fund):
    fund(player, "10.00")
    # The cached balance may be updated (entries may not): a wrong cache is exactly what the command exists to catch.
    Account.objects.filter(player=player, kind=AccountKind.PLAYER_CASH).update(balance=1)
    err = StringIO()
    with pytest.raises(CommandError, match="ledger breach"):
        call_command("verify_ledger", stdout=StringIO(), stderr=err)
    assert "caches 1 but its entries sum to 1000" in err.getvalue()


def test_a_negative_player_balance_is_a_breach(player, fund):
    fund(player, "10.00")
    cash = services.player_accounts(player=player).cash
    # The database itself refuses a negative player balance; only a dropped constraint would let one in.
    # (The test's transaction rolls the DROP back.)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE ledger_account DROP CONSTRAINT ledger_account_player_balance_non_negative")
        cursor.execute("UPDATE ledger_account SET balance = -5 WHERE id = %s", [cash.pk])
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=StringIO(), stderr=err)
    assert f"player account {cash.pk} (player_cash) is negative: -5" in err.getvalue()


def test_breach_listing_stops_at_the_limit(make_player, fund):
    players = [make_player() for _ in range(3)]
    for player in players:
        fund(player, "10.00")
    Account.objects.filter(kind=AccountKind.PLAYER_CASH).update(balance=7)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", "--limit", "2", stdout=StringIO(), stderr=err)
    assert err.getvalue().count("BREACH") == 2


@pytest.mark.django_db(transaction=True)
def test_the_process_exit_code_is_non_zero_on_a_breach(player, fund):
    """What CI and cron see: manage.py's own exit status."""
    from django.db import connection

    fund(player, "10.00")
    db = connection.settings_dict
    login = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    url = f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    command = [sys.executable, "manage.py", "verify_ledger"]
    env = {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.base", "PATH": ""}

    ok = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr

    Account.objects.filter(player=player, kind=AccountKind.PLAYER_CASH).update(balance=1)
    breached = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert breached.returncode != 0
    assert "BREACH" in breached.stderr
