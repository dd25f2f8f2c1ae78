"""The player's 360 page as tabs: what each role sees, the actions each may take, the timeline, and pinned query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.money import Money
from apps.core.panels import PLAYER_TABS

pytestmark = pytest.mark.django_db


def tab_url(player, tab: str) -> str:
    return reverse("admin:players_player_change", args=[player.pk]) + f"?tab={tab}"


@pytest.fixture
def as_role(staff_user):
    def login(role: str):
        user = staff_user(role)
        client = Client()
        client.force_login(user)
        return client, user

    return login


@pytest.fixture
def busy_player(make_player, fund, staff_user, monkeypatch):
    """A player with a bit of everything: money, an adjustment, a withdrawal, a limit, a note, a status change."""
    from apps.kyc import selectors as kyc_selectors
    from apps.ledger.services import adjustment_post
    from apps.limits.services import limit_set
    from apps.payments.services import withdrawal_request
    from apps.players.services import player_note_add, player_reinstate, player_suspend

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)
    player = make_player(phone="+49 170 555 0001")
    operator = staff_user("operator")
    fund(player, "100.00")
    adjustment_post(player=player, amount_minor=250, actor=operator, reason="goodwill for a late payout", idempotency_key="adj-1")
    withdrawal_request(player=player, amount=Money(Decimal("30.00"), "EUR"), idempotency_key="w-1")
    limit_set(player=player, kind="deposit", period="day", amount=Money(Decimal("50.00"), "EUR"))
    player_note_add(player=player, author=operator, text="Asked for a faster payout.")
    player_suspend(player=player, actor=operator, reason="checking documents")
    player_reinstate(player=player, actor=operator, reason="documents fine")
    return player


def test_every_tab_renders_for_the_operator(as_role, busy_player):
    client, _ = as_role("operator")
    for key, _label in PLAYER_TABS:
        response = client.get(tab_url(busy_player, key))
        assert response.status_code == 200, key
        text = response.content.decode()
        assert "unavailable" not in text, key
        if key != "aml":
            assert f'id="tab-{key}"' in text, key


def test_ledger_tab_shows_the_running_balance(as_role, busy_player):
    client, _ = as_role("operator")
    text = client.get(tab_url(busy_player, "ledger")).content.decode()
    # 100.00 deposited, +2.50 adjusted, 30.00 held for the withdrawal: the balance after each line.
    for balance in ("100.00 EUR", "102.50 EUR", "72.50 EUR"):
        assert balance in text
    assert "goodwill for a late payout" in text


def test_timeline_tells_the_whole_story_newest_first(as_role, busy_player):
    client, _ = as_role("operator")
    text = client.get(tab_url(busy_player, "timeline")).content.decode()
    story = [
        "Status: Suspended → Active",
        "Status: Active → Suspended",
        "Asked for a faster payout.",
        "Deposit limit (day)",
        "Withdrawal #",
        "Balance adjusted by 2.50 EUR",
        "Deposit completed" if "Deposit completed" in text else "Registered",
        "Registered",
    ]
    positions = [text.index(event) for event in story]
    assert positions[:6] == sorted(positions[:6])  # newest first
    assert " UTC (" in text  # readable times, not raw ISO strings


def test_operator_sees_money_actions_support_does_not(as_role, busy_player):
    operator, _ = as_role("operator")
    text = operator.get(tab_url(busy_player, "payments")).content.decode()
    assert ">Approve</button>" in text
    assert "Adjust cash" in operator.get(tab_url(busy_player, "overview")).content.decode()

    support, _ = as_role("support")
    for tab in ("overview", "payments", "ledger", "balances"):
        text = support.get(tab_url(busy_player, tab)).content.decode()
        assert ">Approve</button>" not in text and "Adjust cash" not in text and "Suspend…" not in text, tab
    # Support sees balances, never the movements behind them (ledger.view_entry).
    assert "goodwill for a late payout" not in support.get(tab_url(busy_player, "ledger")).content.decode()


def test_aml_tab_only_for_compliance(as_role, busy_player):
    for role in ("operator", "support"):
        client, _ = as_role(role)
        text = client.get(tab_url(busy_player, "overview")).content.decode()
        assert 'id="tab-aml"' not in text, role
        # Asking for the tab by URL falls back to the overview: nothing of the alerts is shown.
        assert 'id="player-tab-overview"' in client.get(tab_url(busy_player, "aml")).content.decode()
    client, _ = as_role("compliance")
    text = client.get(tab_url(busy_player, "aml")).content.decode()
    assert 'id="tab-aml"' in text and 'id="player-tab-aml"' in text


@pytest.mark.parametrize("tab", [key for key, _label in PLAYER_TABS])
def test_query_count_is_pinned_per_tab(as_role, busy_player, make_player, fund, django_assert_max_num_queries, tab):
    """No N+1: a player with five times the history costs the same number of queries."""
    client, _ = as_role("compliance")
    client.get(tab_url(busy_player, tab))  # warm the session and the permission cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(tab_url(busy_player, tab))
    for n in range(5):
        fund(busy_player, "1.00", key=f"more-{tab}-{n}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(tab_url(busy_player, tab))
    assert len(small.captured_queries) <= 60, tab
