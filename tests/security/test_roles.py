"""Each admin action and each staff API call, tried by each role by URL and by POST.

The back-office separates duties (operators pay out and configure games, compliance works AML, KYC
and reports, support only looks): a role that the admin hides a button from must not reach the same
action by crafting the POST or typing the URL (OWASP A01:2021 broken access control; the UKGC's
LCCP and RTS expect the segregation of who may move money and who may review).
"""

from __future__ import annotations

import functools
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.aml.models import AmlAlert
from apps.games.models import Game
from apps.ledger.models import LedgerTransaction
from apps.payments.models import Withdrawal
from apps.players.models import Player, User
from apps.reports.models import ReportRun

pytestmark = pytest.mark.django_db

GROUPS = ("operator", "compliance", "support")


@pytest.fixture
def demo(private_media):
    call_command("seed_demo", allow_production=True, stdout=StringIO())


@pytest.fixture
def role_users(demo, staff_user) -> dict[str, User]:
    """A plain member of each staff group (the demo's operator login is a superuser, which has every permission)."""
    return {group: staff_user(group) for group in GROUPS}


def _request_for(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _snapshot() -> tuple:
    """What an action could change: money, withdrawals' and alerts' states, players' statuses, report runs."""
    return (
        LedgerTransaction.objects.count(),
        tuple(Withdrawal.objects.order_by("pk").values_list("pk", "status")),
        tuple(AmlAlert.objects.order_by("pk").values_list("pk", "status")),
        tuple(Player.objects.order_by("pk").values_list("pk", "status")),
        ReportRun.objects.count(),
        tuple(Game.objects.order_by("pk").values_list("pk", "rtp", "enabled")),
    )


def _admin_actions():
    """(model admin, action name) for every action any user could see: the superuser's list."""
    superuser = User(is_superuser=True, is_staff=True, is_active=True)
    for model, model_admin in admin.site._registry.items():
        for name in model_admin.get_actions(_request_for(superuser)):
            yield model, model_admin, name


def test_each_admin_action_posted_by_a_role_without_it_does_nothing(client, role_users, monkeypatch):
    called: list[str] = []
    for _model, model_admin, name in _admin_actions():
        method = getattr(type(model_admin), name, None)
        if callable(method):

            def spy(*args, __name=name, __method=method, **kwargs):
                called.append(__name)
                return __method(*args, **kwargs)

            monkeypatch.setattr(type(model_admin), name, functools.wraps(method)(spy))

    tried = refused = 0
    for email, user in role_users.items():
        client.force_login(user)
        for model, model_admin, name in _admin_actions():
            if name in model_admin.get_actions(_request_for(user)):
                continue  # the role has it: the app's own admin tests cover what it does
            obj = model._default_manager.order_by("-pk").first()
            if obj is None:
                continue
            before, called[:] = _snapshot(), []
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            response = client.post(url, {"action": name, ACTION_CHECKBOX_NAME: [obj.pk], "index": 0, "post": "yes", "reason": "x" * 20})
            tried += 1
            assert response.status_code in (200, 302, 403), (email, url, name, response.status_code)
            assert called == [], f"{email} ran {model.__name__}.{name} by POST"
            assert _snapshot() == before, f"{email} changed something with {model.__name__}.{name}"
            assert model._default_manager.filter(pk=obj.pk).exists()
            refused += 1
    assert tried == refused and tried >= 10  # the seed has objects for the guarded actions (withdrawals, alerts, KYC, players)


def _custom_admin_urls():
    """Every admin page outside Django's generic views, the permission it needs, and a POST that would write."""
    player = Player.objects.order_by("pk").first()
    account = player.accounts.order_by("pk").first() if hasattr(player, "accounts") else None
    from apps.ledger.models import Account

    account = account or Account.objects.filter(player=player).order_by("pk").first()
    run = ReportRun.objects.order_by("pk").first()
    urls = [
        (reverse("admin:ledger_account_adjust", args=[account.pk]), "ledger.adjust_balance",
         {"amount": "100.00", "reason": "security test: must not post"}),
        (reverse("admin:ledger_account_statement", args=[account.pk]), "ledger.view_entry", {}),
        (reverse("admin:limits_tighten_limit", args=[player.pk]), "limits.tighten_limit",
         {"kind": "deposit", "period": "day", "amount": "1.00", "reason": "security test"}),
        (reverse("admin:reports_reportrun_request"), "reports.request_reportrun", {"report_type": "ggr_daily", "period": "2026-11-01"}),
    ]
    if run is not None:
        urls.append((reverse("admin:reports_reportrun_file", args=[run.pk]), "reports.download_reportrun", {}))
    for transition in ("suspend", "reinstate", "close"):
        urls.append((reverse("admin:players_player_status", args=[player.pk, transition]), "players.change_player_status",
                     {"reason": "security test: must not change"}))
    return urls


def test_each_custom_admin_url_refuses_a_role_without_its_permission_by_get_and_post(client, role_users):
    denied = 0
    for email, user in role_users.items():
        client.force_login(user)
        for url, permission, body in _custom_admin_urls():
            if user.has_perm(permission):
                continue
            before = _snapshot()
            for response in (client.get(url), client.post(url, body)):
                assert response.status_code == 403, (email, url, response.status_code)
            assert _snapshot() == before
            denied += 1
    assert denied >= 5


def test_custom_admin_urls_send_players_and_anonymous_users_to_the_login(client, demo, make_player):
    player_user = make_player().user
    for who in (None, player_user):
        client.logout()
        if who is not None:
            client.force_login(who)
        for url, _permission, body in _custom_admin_urls():
            before = _snapshot()
            for response in (client.get(url), client.post(url, body)):
                assert response.status_code == 302 and "/admin/login/" in response["Location"], (who, url, response.status_code)
            assert _snapshot() == before


# --- the staff API: API.md's role table ---

def _staff_calls(alert_id: int, run_id: int):
    """(method, path, body, roles allowed) straight from API.md's staff table."""
    return [
        ("get", "/api/v1/staff/aml/alerts", None, {"compliance"}),
        ("post", f"/api/v1/staff/aml/alerts/{alert_id}/transition", {"action": "dismiss", "note": "security test"}, {"compliance"}),
        ("get", "/api/v1/staff/games/stats?from=2026-11-01&to=2026-11-30", None, {"operator", "compliance"}),
        ("put", "/api/v1/staff/games/dice/rtp", {"rtp": "95.00"}, {"operator"}),
        ("get", "/api/v1/staff/reports/runs", None, {"compliance"}),
        ("post", "/api/v1/staff/reports/runs", {"type": "ggr_daily", "period": "2026-11-01"}, {"compliance"}),
        ("get", f"/api/v1/staff/reports/runs/{run_id}/file", None, {"compliance"}),
    ]


def _token_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def test_each_staff_api_call_by_each_role_player_and_anonymous(role_users, make_player):
    alert, run = AmlAlert.objects.order_by("pk").first(), ReportRun.objects.order_by("pk").first()
    alert_id, run_id = (alert.pk if alert else 10**9), (run.pk if run else 10**9)
    callers: dict[str, User | None] = dict(role_users)
    callers["player"] = make_player().user
    callers["anonymous"] = None
    checked = 0
    for method, path, body, allowed in _staff_calls(alert_id, run_id):
        for role, user in callers.items():
            before = _snapshot()
            call = getattr(_token_client(user), method)
            response = call(path, body, format="json") if body else call(path)
            if role in allowed:
                assert response.status_code not in (401, 403), (role, method, path, response.status_code)
                continue
            expected = (401, "not_authenticated") if user is None else (403, "permission_denied")
            is_json = response.get("Content-Type", "").startswith("application/json")
            code = response.json().get("error", {}).get("code") if is_json else None
            assert (response.status_code, code) == expected, (role, method, path, response.status_code, response.content[:200])
            assert _snapshot() == before, (role, method, path)
            checked += 1
    assert checked == sum(len(callers) - len(allowed) for *_, allowed in _staff_calls(alert_id, run_id))
