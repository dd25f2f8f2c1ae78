import pytest
from django.contrib.admin import helpers
from django.contrib.messages import get_messages
from django.test import Client

from apps.ledger.selectors import wallet_balances
from apps.payments import services
from apps.payments.models import Deposit, Withdrawal

from .helpers import eur, new_key

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/payments/withdrawal/"


@pytest.fixture
def withdrawals(make_player, fund, kyc_approved):
    """Two pending withdrawals of 10.00 from two players who each had 30.00."""
    made = []
    for _ in range(2):
        player = make_player()
        fund(player, "30.00")
        made.append(services.withdrawal_request(player=player, amount=eur("10.00"), idempotency_key=new_key()))
    return made


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_action(client, action: str, objs, **extra):
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [o.pk for o in objs], **extra}
    return client.post(CHANGELIST, data, follow=False)


def statuses(objs) -> list[str]:
    return [Withdrawal.objects.get(pk=o.pk).status for o in objs]


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_queue_lists_oldest_first_for_an_operator(operator, withdrawals):
    response = browser(operator).get(CHANGELIST)
    assert response.status_code == 200
    listed = [obj.pk for obj in response.context["cl"].result_list]
    assert listed == [withdrawals[0].pk, withdrawals[1].pk]
    assert "approve_withdrawals" in response.content.decode()


def test_operator_approves_then_marks_paid(operator, withdrawals):
    client = browser(operator)
    response = run_action(client, "approve_withdrawals", withdrawals, index=0)
    assert response.status_code == 302
    assert statuses(withdrawals) == ["approved", "approved"]
    assert f"Approved: withdrawal #{withdrawals[0].pk}, withdrawal #{withdrawals[1].pk}." in messages_of(response)

    form = run_action(client, "mark_withdrawals_paid", withdrawals[:1], index=0)
    assert form.status_code == 200 and b"PSP payout reference" in form.content
    done = run_action(client, "mark_withdrawals_paid", withdrawals[:1], apply="Mark paid", psp_reference="payout-1")
    assert done.status_code == 302
    assert statuses(withdrawals) == ["paid", "approved"]
    paid = Withdrawal.objects.get(pk=withdrawals[0].pk)
    assert paid.psp_reference == "payout-1" and paid.paid_by == operator
    assert wallet_balances(player=paid.player).held == eur("0.00")


def test_reject_asks_for_a_reason_first(operator, withdrawals):
    client = browser(operator)
    form = run_action(client, "reject_withdrawals", withdrawals, index=0)
    assert form.status_code == 200 and b"Reason" in form.content
    assert statuses(withdrawals) == ["requested", "requested"]

    empty = run_action(client, "reject_withdrawals", withdrawals, apply="Reject", reason="")
    assert empty.status_code == 200  # the form again, with its error
    assert statuses(withdrawals) == ["requested", "requested"]

    done = run_action(client, "reject_withdrawals", withdrawals, apply="Reject", reason="documents do not match")
    assert done.status_code == 302
    assert statuses(withdrawals) == ["rejected", "rejected"]
    for w in withdrawals:
        assert wallet_balances(player=w.player).cash == eur("30.00")
        assert Withdrawal.objects.get(pk=w.pk).rejection_reason == "documents do not match"


def test_each_row_reports_its_own_outcome(operator, withdrawals):
    client = browser(operator)
    run_action(client, "approve_withdrawals", withdrawals[:1], index=0)
    response = run_action(client, "approve_withdrawals", withdrawals, index=0)
    msgs = messages_of(response)
    assert any(m.startswith(f"Not approved: withdrawal #{withdrawals[0].pk} (") for m in msgs)
    assert f"Approved: withdrawal #{withdrawals[1].pk}." in msgs
    assert statuses(withdrawals) == ["approved", "approved"]


def test_paying_a_requested_withdrawal_fails_per_row(operator, withdrawals):
    response = run_action(browser(operator), "mark_withdrawals_paid", withdrawals[:1], apply="Mark paid", psp_reference="")
    assert any(m.startswith("Not marked paid: withdrawal #") for m in messages_of(response))
    assert statuses(withdrawals[:1]) == ["requested"]


@pytest.mark.parametrize("role", ["support", "compliance"])
def test_view_only_roles_see_the_queue_but_cannot_act(role, staff_user, payment_roles, withdrawals):
    client = browser(staff_user(role))
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert "approve_withdrawals" not in page.content.decode()
    run_action(client, "approve_withdrawals", withdrawals, index=0)
    run_action(client, "reject_withdrawals", withdrawals, apply="Reject", reason="no")
    assert statuses(withdrawals) == ["requested", "requested"]


def test_no_one_edits_a_withdrawal_by_hand(staff_user, withdrawals):
    client = browser(staff_user(superuser=True))
    url = f"{CHANGELIST}{withdrawals[0].pk}/change/"
    assert client.get(url).status_code == 200  # a read-only view
    client.post(url, {"status": "paid"})
    assert statuses(withdrawals[:1]) == ["requested"]
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}{withdrawals[0].pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{CHANGELIST}{withdrawals[0].pk}/history/").status_code == 200


def test_deposit_admin_is_read_only_with_history(staff_user, support, player_client):
    from .helpers import post_money

    post_money(player_client, "/api/v1/wallet/deposits", {"amount": "10.00", "method": "sandbox"}, new_key())
    dep = Deposit.objects.get()
    client = browser(support)
    assert client.get("/admin/payments/deposit/").status_code == 200
    assert client.get(f"/admin/payments/deposit/{dep.pk}/change/").status_code == 200
    assert client.get(f"/admin/payments/deposit/{dep.pk}/history/").status_code == 200
    assert browser(staff_user(superuser=True)).get("/admin/payments/deposit/add/").status_code == 403


def test_staff_without_a_role_cannot_see_withdrawals(staff_user, withdrawals):
    assert browser(staff_user()).get(CHANGELIST).status_code == 403


def test_queue_opens_on_open_withdrawals_and_all_is_one_click_away(operator, make_player, kyc_approved, fund):
    from decimal import Decimal

    from apps.core.money import Money
    from apps.payments import services

    player = make_player()
    fund(player, "100.00")
    open_one = services.withdrawal_request(player=player, amount=Money(Decimal("10.00"), "EUR"), idempotency_key="q-open")
    done = services.withdrawal_request(player=player, amount=Money(Decimal("20.00"), "EUR"), idempotency_key="q-done")
    services.withdrawal_cancel(player=player, withdrawal_id=done.pk)
    client = browser(operator)
    default = client.get(CHANGELIST).content.decode()
    assert f"{CHANGELIST}{open_one.pk}/change/" in default and f"{CHANGELIST}{done.pk}/change/" not in default
    assert f"{CHANGELIST}{done.pk}/change/" in client.get(CHANGELIST + "?queue=all").content.decode()
    assert f"{CHANGELIST}{done.pk}/change/" in client.get(CHANGELIST + "?status__exact=cancelled").content.decode()
