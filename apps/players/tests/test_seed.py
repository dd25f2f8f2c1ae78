"""seed_demo: staff per role, a dozen funded players, and nothing doubled on a second run."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.ledger.checks import verify_ledger
from apps.ledger.models import LedgerTransaction
from apps.ledger.selectors import wallet_balances
from apps.players.management.commands import seed_demo
from apps.players.models import Player, User

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("seed_demo", allow_production=True, stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int, int]:
    return User.objects.count(), User.objects.filter(is_staff=True).count(), Player.objects.count(), LedgerTransaction.objects.count()


def test_seed_twice_gives_the_same_data(monkeypatch):
    monkeypatch.delenv("DEMO_OPERATOR_PASSWORD", raising=False)
    first = run()
    after_first = counts()
    assert after_first[1:3] == (3, 12)
    assert after_first[3] == 12
    second = run()
    assert counts() == after_first
    assert "0 new, 0 deposits made" in second
    assert "12 new, 12 deposits made" in first
    assert verify_ledger().ok


def test_seed_prints_where_and_how_to_log_in(monkeypatch):
    monkeypatch.setenv("DEMO_OPERATOR_PASSWORD", "Env-chosen-pass-77")
    output = run()
    assert "http://127.0.0.1:8000/admin/" in output
    assert "operator@casino.test" in output and "Env-chosen-pass-77" in output
    assert "compliance@casino.test" in output and "support@casino.test" in output
    assert "Games:" in output  # "none yet" until the games issue adds its seed
    assert User.objects.get(email="operator@casino.test").check_password("Env-chosen-pass-77")


def test_seed_staff_have_their_roles():
    run()
    operator = User.objects.get(email="operator@casino.test")
    compliance = User.objects.get(email="compliance@casino.test")
    support = User.objects.get(email="support@casino.test")
    assert operator.is_superuser and operator.is_staff
    assert compliance.is_staff and not compliance.is_superuser and compliance.has_perm("players.change_player_status")
    assert support.is_staff and support.has_perm("players.view_player") and not support.has_perm("players.change_player_status")
    assert not Player.objects.filter(user__in=[operator, compliance, support]).exists()


def test_seed_players_are_funded_once_in_their_currency():
    run()
    run()
    for local, *_rest, currency, _born, amount in seed_demo.PLAYERS:
        player = Player.objects.get(user__email=f"{local}@{seed_demo.PLAYER_EMAIL_DOMAIN}")
        assert player.currency == currency
        assert str(wallet_balances(player=player).cash) == amount
    assert {p.currency for p in Player.objects.all()} >= {"EUR", "SEK", "GBP"}


def test_seed_restores_a_changed_demo_password():
    run()
    operator = User.objects.get(email="operator@casino.test")
    operator.set_password("Someone-changed-it-1")
    operator.save()
    run()
    assert User.objects.get(email="operator@casino.test").check_password(seed_demo.DEFAULT_STAFF_PASSWORD)


def test_seed_refuses_with_debug_off_unless_told(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
