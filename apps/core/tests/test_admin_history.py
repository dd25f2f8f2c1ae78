"""No admin page may rewrite history: reverting would bypass the services and their audit."""

import pytest
from django.contrib import admin
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from apps.core.admin import AuditedHistoryAdmin


def test_every_history_admin_refuses_reverts():
    history_admins = [ma for ma in admin.site._registry.values() if isinstance(ma, SimpleHistoryAdmin)]
    assert history_admins, "expected the apps to register history admins"
    offenders = [type(ma).__name__ for ma in history_admins if not isinstance(ma, AuditedHistoryAdmin)]
    assert offenders == []


@pytest.mark.django_db
def test_posting_a_history_version_of_a_self_excluded_player_is_refused(client, player, staff_user):
    from apps.players.models import Player
    from apps.players.services import player_self_exclude

    original = Player.history.filter(id=player.pk).earliest("history_date")
    player_self_exclude(player=player, actor=player.user, reason="Player asked for a break")
    client.force_login(staff_user(superuser=True))
    url = reverse("admin:players_player_simple_history", args=[player.pk, original.history_id])
    assert client.get(url).status_code == 200
    response = client.post(url, {"date_of_birth": "1990-01-01", "country": "DE", "currency": "EUR"})
    assert response.status_code == 403
    assert Player.objects.get(pk=player.pk).status == "self_excluded"
