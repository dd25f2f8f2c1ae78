"""Statement and journal CSV exports: exact money, running balance, date range, recorded; never for support."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.models import DataExport
from apps.ledger.selectors import player_cash_account
from apps.ledger.services import adjustment_post

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_statement_export_has_the_running_balance_exactly(staff_user, make_player, fund):
    operator = staff_user("operator")
    player = make_player()
    fund(player, "10.10")
    fund(player, "0.20")
    adjustment_post(player=player, amount_minor=-30, actor=operator, reason="=HYPERLINK(x)", idempotency_key="adj-x")
    account = player_cash_account(player=player)
    url = reverse("admin:ledger_account_statement_export", args=[account.pk])
    rows = rows_of(browser(operator).get(url, {"export": "1"}))
    assert [(r["amount"], r["balance_after"]) for r in rows] == [("10.10", "10.10"), ("0.20", "10.30"), ("-0.30", "10.00")]
    assert rows[-1]["reason"] == "'=HYPERLINK(x)" and rows[-1]["posted_by"] == operator.email
    record = DataExport.objects.get()
    assert record.kind == "statement" and record.rows == 3 and record.filters["account"] == account.pk


def test_journal_export_filters_and_date_range(staff_user, make_player, fund):
    compliance = staff_user("compliance")
    player = make_player()
    txn = fund(player, "5.00")
    url = reverse("admin:ledger_entry_export")
    rows = rows_of(browser(compliance).get(url, {"export": "1", "date_from": txn.created_at.date().isoformat()}))
    mine = [r for r in rows if r["transaction_id"] == str(txn.pk)]
    assert sorted(r["amount"] for r in mine) == ["-5.00", "5.00"]  # both sides of the double entry
    rows = rows_of(browser(compliance).get(url, {"export": "1", "date_to": "2001-12-31"}))
    assert rows == []
    assert list(DataExport.objects.order_by("pk").values_list("kind", flat=True)) == ["ledger_journal", "ledger_journal"]


def test_support_exports_no_ledger(staff_user, make_player, fund):
    support = browser(staff_user("support"))
    player = make_player()
    fund(player, "5.00")
    account = player_cash_account(player=player)
    assert support.get(reverse("admin:ledger_account_statement_export", args=[account.pk]), {"export": "1"}).status_code == 403
    assert support.get(reverse("admin:ledger_entry_export"), {"export": "1"}).status_code == 403
    assert not DataExport.objects.exists()
