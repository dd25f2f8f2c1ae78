"""The ledger admin: read-only for everyone, statements with running balances, adjustments by operators only."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from apps.ledger import services
from apps.ledger.models import Account, AccountKind, Entry, LedgerTransaction, TransactionKind
from apps.ledger.selectors import player_cash_account, wallet_balances

from .conftest import eur

pytestmark = pytest.mark.django_db


def cash_of(player) -> Account:
    return services.player_accounts(player=player).cash


def adjust_url(account: Account) -> str:
    return reverse("admin:ledger_account_adjust", args=[account.pk])


def statement_url(account: Account) -> str:
    return reverse("admin:ledger_account_statement", args=[account.pk])


# --- Read-only for everyone ---


@pytest.mark.parametrize("model", ["account", "ledgertransaction", "entry"])
def test_even_a_superuser_cannot_add_change_or_delete(staff_client, player, fund, model):
    fund(player, "10.00")
    obj = {"account": cash_of(player), "ledgertransaction": LedgerTransaction.objects.get(), "entry": Entry.objects.first()}[model]
    client = staff_client(superuser=True)

    assert client.get(reverse(f"admin:ledger_{model}_add")).status_code == 403
    assert client.post(reverse(f"admin:ledger_{model}_add"), {}).status_code == 403
    assert client.post(reverse(f"admin:ledger_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403

    change = client.post(reverse(f"admin:ledger_{model}_change", args=[obj.pk]), {"balance": "999999", "amount": "1", "reason": "x"})
    assert change.status_code == 403
    # The view page itself is readable, and nothing moved.
    assert client.get(reverse(f"admin:ledger_{model}_change", args=[obj.pk])).status_code == 200
    assert wallet_balances(player=player).cash == eur("10.00")
    assert Entry.objects.count() == 2


def test_changelists_offer_no_delete_action(staff_client, player, fund):
    fund(player, "10.00")
    client = staff_client(superuser=True)
    for model in ("account", "ledgertransaction", "entry"):
        response = client.get(reverse(f"admin:ledger_{model}_changelist"))
        assert response.status_code == 200
        assert b"delete_selected" not in response.content
    # Selected-delete posted by hand is refused as an unknown action: nothing is deleted.
    response = client.post(
        reverse("admin:ledger_account_changelist"), {"action": "delete_selected", "_selected_action": [cash_of(player).pk], "post": "yes"}
    )
    assert Account.objects.filter(pk=cash_of(player).pk).exists()
    assert response.status_code in (200, 302)


def test_search_by_player_email_public_id_reference_and_key(staff_client, make_player, fund):
    alice, bob = make_player(), make_player()
    fund(alice, "10.00", key="alice-deposit")
    fund(bob, "20.00", key="bob-deposit")
    client = staff_client("operator")

    by_email = client.get(reverse("admin:ledger_account_changelist"), {"q": alice.user.email.upper()})
    assert alice.user.email in by_email.content.decode() and bob.user.email not in by_email.content.decode()

    by_public_id = client.get(reverse("admin:ledger_ledgertransaction_changelist"), {"q": str(bob.public_id)})
    bob_txn = LedgerTransaction.objects.get(idempotency_key="bob-deposit")
    alice_txn = LedgerTransaction.objects.get(idempotency_key="alice-deposit")
    assert list(by_public_id.context["cl"].result_list) == [bob_txn]

    by_key = client.get(reverse("admin:ledger_ledgertransaction_changelist"), {"q": "alice-deposit"})
    assert list(by_key.context["cl"].result_list) == [alice_txn]

    entries = client.get(reverse("admin:ledger_entry_changelist"), {"q": alice.user.email})
    assert {e.account.player_id for e in entries.context["cl"].result_list} == {alice.pk}


def test_transaction_page_shows_its_entries_inline(staff_client, player, fund):
    txn = fund(player, "12.34")
    response = staff_client("compliance").get(reverse("admin:ledger_ledgertransaction_change", args=[txn.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "12.34 EUR" in body and "-12.34 EUR" in body


def test_changelists_do_not_query_per_row(staff_client, make_player, fund, django_assert_max_num_queries):
    for _ in range(5):
        fund(make_player(), "10.00")
    client = staff_client("operator")
    for model in ("account", "ledgertransaction", "entry"):
        client.get(reverse(f"admin:ledger_{model}_changelist"))  # warm the session and permission caches
        with django_assert_max_num_queries(12):
            assert client.get(reverse(f"admin:ledger_{model}_changelist")).status_code == 200


# --- The statement ---


def test_statement_shows_entries_newest_first_with_running_balance(staff_client, player, fund, staff_user):
    fund(player, "100.00")
    services.bet_post(player=player, amount=eur("30.00"), idempotency_key="b1", reference="round:1")
    services.win_post(player=player, amount=eur("45.50"), idempotency_key="w1", reference="round:1")
    operator = staff_user("operator")
    services.adjustment_post(player=player, amount_minor=-550, actor=operator, reason="Duplicate bonus", idempotency_key="adj")

    response = staff_client("operator").get(statement_url(cash_of(player)))
    assert response.status_code == 200
    body = response.content.decode()
    balances = re.findall(r'class="ledger-balance-after">([^<]+)<', body)
    amounts = re.findall(r'class="ledger-amount">([^<]+)<', body)
    assert amounts == ["-5.50 EUR", "45.50 EUR", "-30.00 EUR", "100.00 EUR"]
    assert balances == ["110.00 EUR", "115.50 EUR", "70.00 EUR", "100.00 EUR"]
    # Who and why are on the adjustment's line.
    assert operator.email in body and "Duplicate bonus" in body
    assert "110.00 EUR" in re.search(r'class="ledger-balance">([^<]+)<', body).group(1)


def test_statement_pages_by_keyset_without_n_plus_one(staff_client, player, fund, django_assert_max_num_queries, monkeypatch):
    from apps.ledger import admin as ledger_admin

    monkeypatch.setattr(ledger_admin, "STATEMENT_PAGE_SIZE", 3)
    for n in range(7):
        fund(player, f"{n + 1}.00")
    client = staff_client("operator")
    url = statement_url(cash_of(player))
    client.get(url)
    with django_assert_max_num_queries(10):
        first = client.get(url)
    amounts = re.findall(r'class="ledger-amount">([^<]+)<', first.content.decode())
    assert amounts == ["7.00 EUR", "6.00 EUR", "5.00 EUR"]
    older = re.search(r'href="(\?before=\d+)"', first.content.decode()).group(1)
    second = client.get(url + older)
    assert re.findall(r'class="ledger-amount">([^<]+)<', second.content.decode()) == ["4.00 EUR", "3.00 EUR", "2.00 EUR"]
    third = client.get(url + re.search(r'href="(\?before=\d+)"', second.content.decode()).group(1))
    assert re.findall(r'class="ledger-amount">([^<]+)<', third.content.decode()) == ["1.00 EUR"]
    assert "?before=" not in third.content.decode()


def test_support_sees_accounts_but_not_statements(staff_client, player, fund):
    fund(player, "10.00")
    client = staff_client("support")
    assert client.get(reverse("admin:ledger_account_changelist")).status_code == 200
    assert client.get(statement_url(cash_of(player))).status_code == 403
    assert client.get(reverse("admin:ledger_entry_changelist")).status_code == 403


# --- Manual adjustments ---


@pytest.mark.parametrize("role", ["support", "compliance"])
def test_only_operators_may_adjust(staff_client, player, fund, role):
    fund(player, "10.00")
    client = staff_client(role)
    url = adjust_url(cash_of(player))
    assert client.get(url).status_code == 403
    response = client.post(url, {"amount": "5.00", "reason": "Goodwill", "submission": str(uuid.uuid4())})
    assert response.status_code == 403
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).exists()
    assert wallet_balances(player=player).cash == eur("10.00")


def test_operator_adjusts_with_actor_and_reason(staff_client, player, fund):
    fund(player, "10.00")
    client = staff_client("operator")
    page = client.get(adjust_url(cash_of(player)))
    assert page.status_code == 200
    submission = page.context["form"]["submission"].value()
    uuid.UUID(str(submission))

    response = client.post(adjust_url(cash_of(player)), {"amount": "-2.50", "reason": "  Chargeback fee  ", "submission": submission})
    assert response.status_code == 302 and response["Location"] == statement_url(cash_of(player))
    txn = LedgerTransaction.objects.get(kind=TransactionKind.ADJUSTMENT)
    assert txn.created_by == client.user
    assert txn.reason == "Chargeback fee"
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-250, 250]
    assert wallet_balances(player=player).cash == eur("7.50")


def test_a_double_submitted_form_posts_once(staff_client, player):
    client = staff_client("operator")
    form = {"amount": "5.00", "reason": "Goodwill", "submission": str(uuid.uuid4())}
    url = adjust_url(cash_of(player))
    assert client.post(url, form).status_code == 302
    assert client.post(url, form).status_code == 302
    assert LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).count() == 1
    assert wallet_balances(player=player).cash == eur("5.00")
    # A fresh form (new UUID) is a new adjustment.
    assert client.post(url, {**form, "submission": str(uuid.uuid4())}).status_code == 302
    assert wallet_balances(player=player).cash == eur("10.00")


@pytest.mark.parametrize(
    ("amount", "reason", "error"),
    [
        ("5.001", "Goodwill", "at most 2 decimal places"),
        ("0.00", "Goodwill", "greater than zero"),
        ("1e3", "Goodwill", "plain decimal"),
        ("+-5.00", "Goodwill", "plain decimal"),
        ("--5.00", "Goodwill", "plain decimal"),
        ("5.00", "   ", "This field is required"),
        ("-10.01", "Claw back", "Not enough funds"),
    ],
)
def test_invalid_adjustments_post_nothing(staff_client, player, fund, amount, reason, error):
    fund(player, "10.00")
    client = staff_client("operator")
    response = client.post(adjust_url(cash_of(player)), {"amount": amount, "reason": reason, "submission": str(uuid.uuid4())})
    assert response.status_code == 200
    assert error.lower() in response.content.decode().lower()
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).exists()
    assert wallet_balances(player=player).cash == eur("10.00")


def test_only_player_cash_accounts_are_adjustable(staff_client, player, fund):
    fund(player, "10.00")
    client = staff_client("operator")
    house = services.system_account(kind=AccountKind.PSP_CLEARING, currency="EUR")
    for account in (house, services.player_accounts(player=player).hold):
        response = client.post(adjust_url(account), {"amount": "1.00", "reason": "x", "submission": str(uuid.uuid4())})
        assert response.status_code == 302 and response["Location"].endswith(f"/ledger/account/{account.pk}/change/")
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).exists()


def test_change_page_links_statement_and_adjustment_by_permission(staff_client, player, fund):
    fund(player, "10.00")
    change = reverse("admin:ledger_account_change", args=[cash_of(player).pk])
    operator_page = staff_client("operator").get(change).content.decode()
    assert adjust_url(cash_of(player)) in operator_page and statement_url(cash_of(player)) in operator_page
    compliance_page = staff_client("compliance").get(change).content.decode()
    assert adjust_url(cash_of(player)) not in compliance_page and statement_url(cash_of(player)) in compliance_page


def test_list_action_adjusts_each_selected_player_once(staff_client, make_player, fund):
    alice, bob = make_player(), make_player()
    fund(alice, "10.00")
    fund(bob, "1.00")
    client = staff_client("operator")
    changelist = reverse("admin:ledger_account_changelist")
    selected = [cash_of(alice).pk, cash_of(bob).pk, services.system_account(kind=AccountKind.PSP_CLEARING, currency="EUR").pk]

    page = client.post(changelist, {"action": "adjust_balances", "_selected_action": selected})
    assert page.status_code == 200 and "Post adjustment" in page.content.decode()
    submission = page.context["form"]["submission"].value()

    form = {"action": "adjust_balances", "_selected_action": selected, "apply_adjustment": "1", "amount": "-2.00", "reason": "Fee"}
    response = client.post(changelist, {**form, "submission": submission})
    assert response.status_code == 302
    # Bob had too little: refused for him alone. The house account was never a candidate.
    assert wallet_balances(player=alice).cash == eur("8.00")
    assert wallet_balances(player=bob).cash == eur("1.00")
    client.post(changelist, {**form, "submission": submission})  # the same form again
    assert LedgerTransaction.objects.filter(kind=TransactionKind.ADJUSTMENT).count() == 1


def test_support_cannot_run_the_adjust_action(staff_client, player, fund):
    fund(player, "10.00")
    client = staff_client("support")
    changelist = reverse("admin:ledger_account_changelist")
    assert b"adjust_balances" not in client.get(changelist).content
    client.post(
        changelist,
        {
            "action": "adjust_balances",
            "_selected_action": [cash_of(player).pk],
            "apply_adjustment": "1",
            "amount": "5.00",
            "reason": "x",
            "submission": str(uuid.uuid4()),
        },
    )
    assert wallet_balances(player=player).cash == eur("10.00")


def test_player_overview_links_the_ledger(player, fund):
    from apps.core.panels import player_panels

    fund(player, "10.00")
    panel = next(panel for panel in player_panels() if panel.title == "Ledger")
    rows = dict(panel.render(player))
    assert statement_url(player_cash_account(player=player)) in rows["Cash statement"]
    assert "10.00 EUR" in rows["Cash statement"]


def test_unfiltered_changelists_use_the_row_estimate_instead_of_counting(staff_client, make_player, fund, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.ledger import admin as ledger_admin

    for _ in range(3):
        fund(make_player(), "10.00")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_entry")
    monkeypatch.setattr(ledger_admin, "ESTIMATE_COUNT_ABOVE", 1)
    client = staff_client("operator")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:ledger_entry_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 6  # ANALYZE saw every row of this small table
    assert not [q["sql"] for q in queries if "COUNT(*)" in q["sql"] and "ledger_entry" in q["sql"]]
    # Filtered, it counts exactly.
    filtered = client.get(reverse("admin:ledger_entry_changelist"), {"kind": "deposit"})
    assert filtered.context["cl"].result_count == 6


def test_a_refused_adjustment_can_be_corrected_and_posted(staff_client, player, fund):
    fund(player, "10.00")
    client = staff_client("operator")
    url = adjust_url(cash_of(player))
    first_key = str(uuid.uuid4())
    refused = client.post(url, {"amount": "-12.00", "reason": "Fee", "submission": first_key})
    assert refused.status_code == 200
    assert "available: player_cash 10.00" in refused.content.decode()
    fresh_key = refused.context["form"]["submission"].value()
    assert fresh_key != first_key
    assert client.post(url, {"amount": "-2.00", "reason": "Fee", "submission": fresh_key}).status_code == 302
    assert wallet_balances(player=player).cash == eur("8.00")
