"""The operator UI for players: status actions with reasons and permissions, 360° panel, audited edits."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from apps.core import panels
from apps.players.models import Player, PlayerStatus, User
from apps.players.services import player_suspend

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:players_player_changelist")


def change_url(player) -> str:
    return reverse("admin:players_player_change", args=[player.pk])


def status_url(player, transition: str) -> str:
    return reverse("admin:players_player_status", args=[player.pk, transition])


def reread(player) -> Player:
    return Player.objects.select_related("user").get(pk=player.pk)


@pytest.fixture
def as_role(staff_user):
    def login(role: str) -> tuple[Client, User]:
        user = staff_user(role)
        client = Client()
        client.force_login(user)
        return client, user

    return login


def test_operator_suspends_through_the_action_with_a_reason(as_role, make_player):
    client, operator = as_role("operator")
    first, second = make_player(), make_player()
    selected = [str(first.pk), str(second.pk)]

    confirm = client.post(CHANGELIST, {"action": "suspend_players", "_selected_action": selected, "index": 0})
    assert confirm.status_code == 200
    assert b"Reason" in confirm.content and first.user.email.encode() in confirm.content
    assert reread(first).status == PlayerStatus.ACTIVE  # nothing happens before the reason is given

    done = client.post(
        CHANGELIST,
        {"action": "suspend_players", "_selected_action": selected, "apply_status": "Suspend", "reason": "AML review #42"},
    )
    assert done.status_code == 302
    for player in (first, second):
        player = reread(player)
        assert player.status == PlayerStatus.SUSPENDED
        latest = player.history.latest()
        assert latest.history_user == operator
        assert latest.history_change_reason == "AML review #42"
        assert player.status_reason == "AML review #42"


def test_action_without_a_reason_changes_nothing(as_role, player):
    client, _ = as_role("operator")
    response = client.post(
        CHANGELIST, {"action": "suspend_players", "_selected_action": [player.pk], "apply_status": "Suspend", "reason": "   "}
    )
    assert response.status_code == 200
    assert b"required" in response.content
    assert reread(player).status == PlayerStatus.ACTIVE


def test_action_reports_players_it_could_not_change(as_role, make_player):
    client, _ = as_role("operator")
    active, suspended = make_player(), player_suspend(player=make_player(), actor=None, reason="x")
    response = client.post(
        CHANGELIST,
        {"action": "reinstate_players", "_selected_action": [active.pk, suspended.pk], "apply_status": "Reinstate", "reason": "ok"},
        follow=True,
    )
    text = response.content.decode()
    assert "Not reinstated" in text and active.user.email in text
    assert reread(suspended).status == PlayerStatus.ACTIVE


def test_support_cannot_change_status(as_role, player):
    client, _ = as_role("support")
    changelist = client.get(CHANGELIST)
    assert changelist.status_code == 200
    assert b"suspend_players" not in changelist.content

    client.post(CHANGELIST, {"action": "suspend_players", "_selected_action": [player.pk], "index": 0})
    client.post(
        CHANGELIST, {"action": "suspend_players", "_selected_action": [player.pk], "apply_status": "Suspend", "reason": "x"}
    )
    assert client.get(status_url(player, "suspend")).status_code == 403
    assert client.post(status_url(player, "suspend"), {"reason": "x"}).status_code == 403
    assert reread(player).status == PlayerStatus.ACTIVE


def test_support_sees_the_player_read_only(as_role, player):
    client, _ = as_role("support")
    page = client.get(change_url(player))
    assert page.status_code == 200
    assert player.user.email.encode() in page.content
    assert b"Suspend" not in page.content
    assert b'name="address_city"' not in page.content
    refused = client.post(change_url(player), {"address_city": "Nowhere", "change_reason": "x", "_save": "Save"})
    assert refused.status_code == 403


def test_compliance_suspends_from_the_player_page(as_role, player):
    client, officer = as_role("compliance")
    page = client.get(change_url(player))
    assert status_url(player, "suspend").encode() in page.content
    assert status_url(player, "reinstate").encode() not in page.content  # not possible while active

    form = client.get(status_url(player, "suspend"))
    assert form.status_code == 200
    response = client.post(status_url(player, "suspend"), {"reason": "Source of funds unclear"})
    assert response.status_code == 302 and response["Location"] == change_url(player)
    player = reread(player)
    assert player.status == PlayerStatus.SUSPENDED
    assert player.history.latest().history_user == officer


def test_unknown_transition_is_refused(as_role, player):
    client, _ = as_role("operator")
    assert client.get(status_url(player, "self_exclude")).status_code == 403
    assert client.get(status_url(player, "delete")).status_code == 403


def test_player_page_shows_the_360_panel(as_role, player, fund):
    fund(player, "12.34")
    client, _ = as_role("operator")
    text = client.get(change_url(player)).content.decode()
    assert 'id="tab-overview"' in text and 'id="tab-timeline"' in text  # the 360 as tabs
    assert "12.34 EUR" in text  # cash, from the ledger
    assert "KYC status" in text
    assert "Suspend…" in text
    # The browser tab and the page header name the player readably: not "Change player", not the raw public UUID.
    name = player.user.get_full_name()
    assert _text(re.search(r"<title>(.*?)</title>", text, re.S).group(1)) == f"Player 360 · {name} | Casino back-office"
    heading = _text(re.search(r"<h1[^>]*>(.*?)</h1>", text, re.S).group(1))
    assert heading.endswith(f"Player 360 · {name}")
    assert str(player.public_id) not in heading


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_a_broken_panel_does_not_break_the_page(as_role, player, monkeypatch):
    def broken(player):
        raise RuntimeError("boom")

    monkeypatch.setitem(panels._panels, "Broken", panels.PlayerPanel(title="Broken", order=5, render=broken))
    client, _ = as_role("operator")
    response = client.get(change_url(player))
    assert response.status_code == 200
    assert b"unavailable" in response.content
    assert b"Wallet" in response.content


def test_panels_from_other_apps_are_rendered_in_order(player, monkeypatch):
    monkeypatch.setattr(panels, "_panels", dict(panels._panels))
    panels.player_panel("Responsible gaming", order=30)(lambda p: [("Deposit limit (day)", "<b>100.00</b> EUR")])
    html = panels.render_player_overview(player)
    assert html.index("<h3>Wallet</h3>") < html.index("<h3>Responsible gaming</h3>") < html.index("<h3>KYC</h3>")
    assert "&lt;b&gt;100.00&lt;/b&gt;" in html  # escaped unless the panel marks it safe


def test_search_by_email_name_public_id_and_id(as_role, make_player):
    client, _ = as_role("support")
    wanted = make_player(first_name="Zelda", last_name="Unique")
    other = make_player(email="someone.else@example.org", first_name="Other", last_name="Else")  # no digits to match an id
    for term in (wanted.user.email, "Unique", str(wanted.public_id), str(wanted.pk)):
        text = client.get(CHANGELIST, {"q": term}).content.decode()
        assert wanted.user.email in text, term
        assert other.user.email not in text, term


def test_filters_by_status_and_country(as_role, make_player):
    client, _ = as_role("operator")
    suspended = player_suspend(player=make_player(country="AT"), actor=None, reason="x")
    active = make_player(country="DE")
    text = client.get(CHANGELIST, {"status__exact": "suspended"}).content.decode()
    assert suspended.user.email in text and active.user.email not in text
    text = client.get(CHANGELIST, {"country__exact": "DE"}).content.decode()
    assert active.user.email in text and suspended.user.email not in text


def _profile_form(player, **changes) -> dict:
    data = {name: getattr(player, name) for name in (
        "second_surname", "nationality", "sex", "address_street", "address_city", "address_postcode", "address_country", "phone",
    )}
    data.update(changes)
    data["_save"] = "Save"
    return data


def test_operator_profile_edit_needs_a_reason_and_is_audited(as_role, player):
    client, operator = as_role("operator")
    refused = client.post(change_url(player), _profile_form(player, address_city="Berlin"))
    assert refused.status_code == 200
    assert b"Say why" in refused.content
    assert reread(player).address_city == ""

    saved = client.post(change_url(player), _profile_form(player, address_city="Berlin", change_reason="Player phoned in"))
    assert saved.status_code == 302
    player = reread(player)
    assert player.address_city == "Berlin"
    latest = player.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (operator, "Player phoned in")


def test_status_cannot_be_posted_as_a_field(as_role, player):
    client, _ = as_role("operator")
    client.post(change_url(player), _profile_form(player, status="closed", change_reason="try"))
    assert reread(player).status == PlayerStatus.ACTIVE


def test_history_is_visible_but_cannot_be_reverted(as_role, player):
    player_suspend(player=player, actor=None, reason="visible in history")
    client, _ = as_role("operator")
    history = client.get(reverse("admin:players_player_history", args=[player.pk]))
    assert history.status_code == 200
    assert b"visible in history" in history.content
    first_version = player.history.earliest()
    url = reverse("admin:players_player_simple_history", args=[player.pk, first_version.history_id])
    assert client.post(url, _profile_form(player, change_reason="revert")).status_code == 403
    assert reread(player).status == PlayerStatus.SUSPENDED


def test_players_are_neither_added_nor_deleted_in_the_admin(staff_user, player):
    client = Client()
    client.force_login(staff_user(superuser=True))
    assert client.get(reverse("admin:players_player_add")).status_code == 403
    assert client.get(reverse("admin:players_player_delete", args=[player.pk])).status_code == 403


def test_superuser_creates_a_staff_login_by_email(staff_user):
    client = Client()
    client.force_login(staff_user(superuser=True))
    response = client.post(
        reverse("admin:players_user_add"),
        {
            "email": "New.Agent@Casino.test",
            "usable_password": "true",
            "password1": "Long-enough-pass-42",
            "password2": "Long-enough-pass-42",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="new.agent@casino.test")
    assert user.check_password("Long-enough-pass-42")
    assert client.get(reverse("admin:players_user_change", args=[user.pk])).status_code == 200


def test_operators_see_lockouts(as_role):
    client, _ = as_role("operator")
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 200
    assert client.get(reverse("admin:axes_accessfailurelog_changelist")).status_code == 200


def test_admin_login_is_locked_out_too(staff_user):
    staff = staff_user("operator")
    client = Client()
    url = reverse("admin:login")
    for _ in range(4):
        assert client.post(url, {"username": staff.email.upper(), "password": "wrong-password-1"}).status_code == 200
    client.post(url, {"username": staff.email, "password": "wrong-password-1"})
    locked = client.post(url, {"username": staff.email, "password": "Staff-passphrase-42"})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    body = locked.content.decode()
    assert locked["Content-Type"].startswith("text/html")
    assert 'id="lockout"' in body and "Too many failed logins" in body and f'href="{url}"' in body
    assert "_auth_user_id" not in client.session


def test_staff_log_in_to_the_admin_by_email_in_any_case(staff_user):
    staff = staff_user("support")
    client = Client()
    response = client.post(reverse("admin:login"), {"username": staff.email.upper(), "password": "Staff-passphrase-42", "next": "/admin/"})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
