"""The admin shell around every page: in-layout refusals, readable times, "Recent actions", running a schedule."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from apps.players.models import Player, PlayerStatus
from tests.factories import PlayerFactory

pytestmark = pytest.mark.django_db


def test_support_refused_by_url_sees_why_inside_the_admin_with_a_way_back(client, staff_user):
    client.force_login(staff_user("support"))
    dashboard = reverse("admin:index")
    response = client.get(reverse("admin:aml_amlalert_changelist"), HTTP_REFERER=f"http://testserver{dashboard}")
    body = response.content.decode()
    assert response.status_code == 403
    assert 'id="refusal-reason"' in body and "role" in body
    assert f'href="http://testserver{dashboard}"' in body  # go back
    assert 'id="nav-sidebar"' in body or "Dashboard" in body  # the shell, not a bare "403 Forbidden"


def test_a_refusal_outside_the_admin_stays_djangos_own(client, staff_user):
    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory

    from apps.backoffice.views import permission_denied

    request = RequestFactory().get("/elsewhere/")
    request.user = staff_user("support")
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403 and b"refusal-reason" not in response.content


def test_signing_in_on_the_login_page_itself_lands_on_the_dashboard(client, staff_user):
    staff = staff_user("support")
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": "Staff-passphrase-42"})
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_times_in_the_admin_are_readable(client, staff_user):
    player = PlayerFactory()
    client.force_login(staff_user("operator"))
    body = client.get(reverse("admin:players_player_change", args=[player.pk])).content.decode()
    assert not re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+\+00:00", body), "a raw ISO timestamp is shown"
    created = player.created_at
    assert f"{created.day} {created:%b} {created.year}, {created:%H:%M:%S}" in body


def test_an_action_that_calls_a_service_appears_in_recent_actions(client, staff_user):
    operator = staff_user("operator")
    player = PlayerFactory()
    client.force_login(operator)
    client.post(
        reverse("admin:players_player_changelist"),
        {"action": "suspend_players", "_selected_action": [player.pk], "apply_status": "Suspend", "reason": "AML review #7"},
    )
    assert Player.objects.get(pk=player.pk).status == PlayerStatus.SUSPENDED
    entry = LogEntry.objects.get(user=operator, object_id=str(player.pk))
    assert entry.content_type == ContentType.objects.get_for_model(Player)
    assert "Suspended" in entry.get_change_message()
    home = client.get(reverse("admin:index")).content.decode()
    assert str(player) in home  # "Recent actions" on the dashboard


@pytest.fixture
def schedule(db):
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    return PeriodicTask.objects.create(name="test: expire KYC", task="apps.kyc.tasks.kyc_expire_due_task", interval=every)


def test_compliance_runs_a_schedule_now_through_its_task(client, staff_user, schedule, monkeypatch):
    from celery import current_app

    current_app.loader.import_default_modules()
    task = current_app.tasks.get(schedule.task)
    if task is None:  # the name differs: take any registered task of ours
        schedule.task = next(name for name in current_app.tasks if name.startswith("apps."))
        schedule.save()
        task = current_app.tasks[schedule.task]
    sent = []
    monkeypatch.setattr(type(task), "apply_async", lambda self, *args, **kwargs: sent.append((self.name, kwargs)))
    compliance = staff_user("compliance")
    client.force_login(compliance)
    client.post(reverse("admin:django_celery_beat_periodictask_changelist"), {"action": "run_tasks", "_selected_action": [schedule.pk]})
    assert [name for name, _ in sent] == [schedule.task]
    assert LogEntry.objects.filter(user=compliance, object_id=str(schedule.pk), change_message__contains="Ran now").exists()


def test_operators_may_not_run_or_disable_a_schedule(client, staff_user, schedule):
    client.force_login(staff_user("operator"))
    url = reverse("admin:django_celery_beat_periodictask_changelist")
    page = client.get(url)
    assert page.status_code == 200 and b"run_tasks" not in page.content
    client.post(url, {"action": "disable_tasks", "_selected_action": [schedule.pk]})
    assert PeriodicTask.objects.get(pk=schedule.pk).enabled


def test_the_task_of_a_schedule_is_chosen_from_the_registered_tasks(client, staff_user, schedule):
    client.force_login(staff_user("compliance"))
    url = reverse("admin:django_celery_beat_periodictask_change", args=[schedule.pk])
    page = client.get(url).content.decode()
    assert 'name="regtask"' in page and 'name="task"' not in page
    data = {"name": schedule.name, "regtask": "apps.not.a.task", "enabled": "on", "interval": schedule.interval_id,
            "args": "[]", "kwargs": "{}", "priority": "", "headers": "{}"}
    refused = client.post(url, data)
    assert refused.status_code == 200  # the form again, with the error
    assert PeriodicTask.objects.get(pk=schedule.pk).task == schedule.task
