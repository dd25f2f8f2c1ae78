"""The admin can show everything and make limits stricter; nothing in it lifts an exclusion or loosens a limit."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from apps.limits import services, tasks
from apps.limits.models import Exclusion, Limit, PlayerProtection
from apps.limits.roles import ROLE_PERMISSIONS

from .helpers import eur

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def excluded_player(player):
    services.limit_set(player=player, kind="deposit", period="day", amount=eur("50.00"))
    services.self_exclusion_start(player=player, months=6)
    return player


def test_superuser_sees_every_page_but_can_change_nothing(excluded_player, staff_user):
    admin = logged_in(staff_user(superuser=True))
    protection = PlayerProtection.objects.get(player=excluded_player)
    limit = Limit.objects.get(player=excluded_player)
    exclusion = Exclusion.objects.get(player=excluded_player)
    for name, obj in (("playerprotection", protection), ("limit", limit), ("exclusion", exclusion)):
        assert admin.get(reverse(f"admin:limits_{name}_changelist")).status_code == 200
        assert admin.get(reverse(f"admin:limits_{name}_change", args=[obj.pk])).status_code == 200
        assert admin.get(reverse(f"admin:limits_{name}_history", args=[obj.pk])).status_code == 200
        assert admin.post(reverse(f"admin:limits_{name}_change", args=[obj.pk]), {}).status_code == 403
        assert admin.post(reverse(f"admin:limits_{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
        assert admin.get(reverse(f"admin:limits_{name}_add")).status_code == 403
    protection.refresh_from_db()
    assert protection.self_excluded_until is not None


def test_history_revert_cannot_lift_an_exclusion(player, staff_user):
    services.timeout_start(player=player, hours=24)  # the first version: no self-exclusion
    services.self_exclusion_start(player=player, months=6)
    protection = PlayerProtection.objects.get(player=player)
    before = protection.history.order_by("history_id").first()
    assert before.self_excluded_until is None
    admin = logged_in(staff_user(superuser=True))
    url = reverse("admin:limits_playerprotection_simple_history", args=[protection.pk, before.history_id])
    assert admin.get(url).status_code == 200
    assert admin.post(url, {}).status_code == 403
    protection.refresh_from_db()
    assert protection.self_excluded_until is not None


def test_operator_makes_a_limit_stricter_with_a_reason(excluded_player, role_user):
    operator = role_user("operator")
    client = logged_in(operator)
    url = reverse("admin:limits_tighten_limit", args=[excluded_player.pk])
    assert client.get(url + "?kind=deposit&period=day").status_code == 200
    response = client.post(url, {"kind": "deposit", "period": "day", "amount": "20.00", "reason": "Affordability check"})
    assert response.status_code == 302
    limit = Limit.objects.get(player=excluded_player)
    assert limit.amount_minor == 2000
    latest = limit.history.order_by("-history_id").first()
    assert latest.history_user == operator and "Affordability check" in latest.history_change_reason


def test_operator_cannot_loosen_through_the_admin(excluded_player, role_user):
    client = logged_in(role_user("compliance"))
    url = reverse("admin:limits_tighten_limit", args=[excluded_player.pk])
    response = client.post(url, {"kind": "deposit", "period": "day", "amount": "60.00", "reason": "VIP asked"})
    assert response.status_code == 200 and "stricter" in response.content.decode()
    assert Limit.objects.get(player=excluded_player).amount_minor == 5000


def test_support_can_look_but_not_tighten(excluded_player, role_user):
    client = logged_in(role_user("support"))
    assert client.get(reverse("admin:limits_limit_changelist")).status_code == 200
    assert client.get(reverse("admin:limits_exclusion_changelist")).status_code == 200
    url = reverse("admin:limits_tighten_limit", args=[excluded_player.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"kind": "deposit", "period": "day", "amount": "1.00", "reason": "x"}).status_code == 403
    assert Limit.objects.get(player=excluded_player).amount_minor == 5000


def test_make_stricter_action_opens_the_form_for_one_limit(excluded_player, role_user):
    client = logged_in(role_user("operator"))
    limit = Limit.objects.get(player=excluded_player)
    response = client.post(reverse("admin:limits_limit_changelist"), {"action": "make_stricter_action", "_selected_action": [limit.pk]})
    assert response.status_code == 302
    assert response.url == reverse("admin:limits_tighten_limit", args=[excluded_player.pk]) + "?kind=deposit&period=day"


def test_roles_are_least_privilege_and_name_real_permissions():
    from django.contrib.auth.models import Permission

    for role, labels in ROLE_PERMISSIONS.items():
        for label in labels:
            app_label, codename = label.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), (role, label)
            # Nobody gets a way to change or delete protection data.
            assert not codename.startswith(("change_", "delete_", "add_")), (role, label)
    assert "limits.tighten_limit" in ROLE_PERMISSIONS["operator"]
    assert "limits.tighten_limit" in ROLE_PERMISSIONS["compliance"]
    assert "limits.tighten_limit" not in ROLE_PERMISSIONS["support"]


def test_beat_schedules_exist_for_every_task():
    scheduled = dict(PeriodicTask.objects.filter(task__startswith="apps.limits.").values_list("task", "enabled"))
    assert scheduled == {tasks.end_expired_exclusions.name: True, tasks.activate_pending_limits.name: True,
                         tasks.detect_markers_of_harm.name: True}
    assert PeriodicTask.objects.get(task=tasks.activate_pending_limits.name).interval.every == 15
