"""Staff log in to the admin in a real browser; support is refused money pages even by URL."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.mark.parametrize("role", ["operator", "compliance", "support"])
def test_each_role_logs_in_to_the_admin(login_as, live_server, role):
    page, user = login_as(role)
    assert page.url == f"{live_server.url}/admin/"
    assert "Casino back-office" in page.title()
    # Logged in: the page offers to log this user out, and the login form is gone.
    assert page.locator("form[action$='/admin/logout/']").count() >= 1
    assert page.locator("input[name=password]").count() == 0
    assert user.email in page.content()  # as this very user


def test_a_wrong_password_stays_on_the_login_page(page, live_server, staff_user):
    from tests.browser.conftest import admin_login

    user = staff_user("operator")
    admin_login(page, live_server.url, user.email, password="not-the-password")
    assert "/admin/login/" in page.url
    assert page.locator("input[name=password]").count() == 1


@pytest.mark.parametrize(
    "money_page",
    ["/admin/ledger/ledgertransaction/", "/admin/ledger/entry/"],
    ids=["ledger-transactions", "ledger-entries"],
)
def test_support_is_refused_a_money_page_by_url(login_as, live_server, money_page, make_player, fund):
    player = make_player()
    fund(player, "123.45")
    page, _support = login_as("support")
    response = page.goto(f"{live_server.url}{money_page}")
    assert response.status == 403
    assert "123.45" not in page.content()


def test_supports_403_is_inside_the_admin_layout_with_a_way_back(login_as, live_server):
    page, _support = login_as("support")
    response = page.goto(f"{live_server.url}/admin/ledger/ledgertransaction/")
    assert response.status == 403
    assert "Casino back-office" in page.title()  # the admin's own page, not the bare "403 Forbidden"
    assert page.locator("a[href='/admin/']").count() >= 1  # a way back to the dashboard
