"""The operator's 360° view assembles every app's panel on the player change page."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.core.money import Money

pytestmark = pytest.mark.django_db


def test_player_page_shows_wallet_protection_payments_and_kyc(client, player, fund, staff_user):
    from apps.limits.services import limit_set, timeout_start

    fund(player, "42.00")
    limit_set(player=player, kind="deposit", period="day", amount=Money(Decimal("100.00"), "EUR"))
    timeout_start(player=player, hours=24)
    client.force_login(staff_user(superuser=True))
    page = client.get(reverse("admin:players_player_change", args=[player.pk])).content.decode()
    for title in ("Wallet", "Responsible gaming", "Payments", "KYC"):
        assert f"<h3>{title}</h3>" in page
    assert "42.00 EUR" in page
    assert "Deposit limit (day)" in page and "100.00 EUR" in page
    assert "unavailable" not in page


def test_open_withdrawals_link_filters_the_queue_to_the_player(client, make_player, staff_user):
    player = make_player()
    client.force_login(staff_user(superuser=True))
    url = reverse("admin:payments_withdrawal_changelist") + f"?player__id__exact={player.pk}"
    response = client.get(url)
    assert response.status_code == 200
