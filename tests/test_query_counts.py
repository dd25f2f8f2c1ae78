"""Lists cost the same number of queries for 2 rows as for 10: no page issues a query per row.

Every admin changelist of the project's apps and every list-shaped API endpoint is rendered
once with 2 rows per table and once with 10; the query counts must be equal. A related object
read per row (a player's email, an account's currency, a reviewer) shows up here as growth.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.admin import WorkQueueFilter
from apps.core.money import Money
from conftest import client_for

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 10
_keys = itertools.count(1)

# The project's apps, plus third-party admins whose rows grow with players (every login and logout).
# django_celery_beat, axes and auth.Group list rows that do not grow with players, or have no relations per row.
LISTED_APPS = {"players", "ledger", "payments", "kyc", "limits", "core", "token_blacklist"}
LISTED_ADMINS = sorted(
    (f"{model._meta.app_label}.{model._meta.model_name}" for model in admin.site._registry if model._meta.app_label in LISTED_APPS),
)


def _eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.fixture(autouse=True)
def _private_media(private_media):
    """KYC uploads land in a throw-away directory."""
    return private_media


@pytest.fixture
def kyc_approved(monkeypatch):
    """Withdrawals need an approved KYC; the players' cases stay open (in review) so the KYC queue lists them."""
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


def _upload(player, kind: str = "proof_of_address"):
    from apps.kyc.services import kyc_document_upload
    from apps.kyc.tests.samples import PDF_BYTES, a_file

    return kyc_document_upload(player=player, kind=kind, uploaded_file=a_file(PDF_BYTES, "doc.pdf", "application/pdf"))


@pytest.fixture
def add_players(make_player, fund, staff_user, kyc_approved):
    """Players with a row in every project table the admin lists, each created through the owning app's service."""
    from apps.core.services import data_export_start
    from apps.kyc import services as kyc_services
    from apps.limits import services as limits_services
    from apps.payments import services as payment_services
    from apps.players import services as player_services

    officer = staff_user(superuser=True)

    def add(count: int) -> None:
        for _ in range(count):
            player = make_player()
            fund(player, "100.00")
            payment_services.deposit_create(player=player, amount=_eur("10.00"), method="sandbox", idempotency_key=f"qc-dep-{next(_keys)}")
            payment_services.withdrawal_request(player=player, amount=_eur("5.00"), idempotency_key=f"qc-wd-{next(_keys)}")
            _upload(player)
            case = kyc_services.kyc_submit(player=player)
            kyc_services.kyc_start_review(case=case, officer=officer)
            limits_services.limit_set(player=player, kind="deposit", period="day", amount=_eur("500.00"))
            limits_services.timeout_start(player=player, hours=24)
            tokens = player_services.auth_tokens_issue(user=player.user)
            player_services.auth_logout(refresh=tokens.refresh)
            interaction = limits_services.interaction_open(player=player, marker="net_loss_24h", window=date(2025, 1, 1), evidence={})
            limits_services.interaction_contact(interaction_id=interaction.pk, actor=officer, channel="phone", note="query-count test")
            player_services.player_suspend(player=player, actor=officer, reason="query-count test")
            player_services.player_self_exclude(player=make_player(), actor=None, reason="query-count test")  # an excluded identity
            player_services.player_note_add(player=player, author=officer, text="query-count test")
            tag = player_services.tag_create(name=f"qc-tag-{next(_keys)}", actor=officer)
            player_services.player_tag_add(player=player, tag=tag, actor=officer, reason="query-count test")
            data_export_start(kind="players", user=officer, filters={"q": player.user.email})

    return add


def _changelist_queries(client, url: str) -> int:
    response = client.get(url)  # warm per-process caches (content types, permissions) first
    assert response.status_code == 200, url
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def _result_count(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["cl"].result_count


@pytest.mark.parametrize("label", LISTED_ADMINS)
def test_admin_changelist_queries_do_not_grow_with_rows(client, staff_user, add_players, label):
    from django.apps import apps

    model = apps.get_model(label)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    if any(isinstance(f, type) and issubclass(f, WorkQueueFilter) for f in admin.site._registry[model].list_filter):
        url += "?queue=all"  # the work queues open on what needs a decision; every row counts here
    client.force_login(staff_user(superuser=True))

    add_players(FEW)
    few_rows = _result_count(client, url)
    few = _changelist_queries(client, url)
    add_players(MANY - FEW)
    many_rows = _result_count(client, url)
    many = _changelist_queries(client, url)

    assert many_rows > few_rows, f"{label}: the seeding added no rows, so this test would prove nothing"
    assert many == few, f"{label}: {few} queries for {few_rows} rows, {many} for {many_rows}"


def test_every_listed_model_admin_is_covered():
    assert {"players.player", "players.user", "ledger.account", "ledger.entry", "ledger.ledgertransaction",
            "payments.deposit", "payments.withdrawal", "kyc.kyccase", "limits.limit", "limits.exclusion",
            "limits.playerprotection", "token_blacklist.outstandingtoken", "token_blacklist.blacklistedtoken"} <= set(LISTED_ADMINS)


# --- API list endpoints ------------------------------------------------------------------------


def _api_queries(client, path: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured), response.json()


def test_wallet_transactions_queries_do_not_grow_with_entries(make_player, fund, kyc_approved):
    from apps.payments.services import withdrawal_request

    player = make_player()
    client = client_for(player)

    def add(count: int) -> None:
        for _ in range(count):
            fund(player, "10.00")
            withdrawal_request(player=player, amount=_eur("1.00"), idempotency_key=f"qc-wd-{next(_keys)}")

    add(FEW // 2)
    few, body_few = _api_queries(client, "/api/v1/wallet/transactions")
    add((MANY - FEW) // 2)
    many, body_many = _api_queries(client, "/api/v1/wallet/transactions")

    assert (len(body_few["results"]), len(body_many["results"])) == (FEW, MANY)
    assert many == few


def test_kyc_status_queries_do_not_grow_with_documents(make_player):
    player = make_player()
    client = client_for(player)

    for _ in range(FEW):
        _upload(player)
    few, body_few = _api_queries(client, "/api/v1/kyc")
    for _ in range(MANY - FEW):
        _upload(player)
    many, body_many = _api_queries(client, "/api/v1/kyc")

    assert (len(body_few["documents"]), len(body_many["documents"])) == (FEW, MANY)
    assert many == few


def test_responsible_gaming_queries_do_not_grow_with_limits_or_ledger_rows(make_player, fund):
    """One usage query per distinct period (at most three), however many limits and entries there are."""
    from apps.limits.services import limit_set, timeout_start

    player = make_player()
    client = client_for(player)
    for period in ("day", "week", "month"):
        limit_set(player=player, kind="deposit", period=period, amount=_eur("900.00"))
    fund(player, "10.00")
    few, body_few = _api_queries(client, "/api/v1/responsible-gaming")

    for kind in ("loss", "wager"):
        for period in ("day", "week", "month"):
            limit_set(player=player, kind=kind, period=period, amount=_eur("900.00"))
    for _ in range(MANY):
        fund(player, "10.00")
    timeout_start(player=player, hours=24)
    many, body_many = _api_queries(client, "/api/v1/responsible-gaming")

    assert (len(body_few["limits"]), len(body_many["limits"])) == (3, 9)
    assert many == few


def test_me_queries_do_not_grow_with_the_players_history(make_player, fund):
    player = make_player()
    client = client_for(player)

    fund(player, "10.00")
    _upload(player)
    few, _ = _api_queries(client, "/api/v1/me")
    for _ in range(MANY):
        fund(player, "10.00")
        _upload(player)
    make_player()
    many, body = _api_queries(client, "/api/v1/me")

    assert (body["email"], body["kyc_status"]) == (player.user.email, "none")
    assert many == few
