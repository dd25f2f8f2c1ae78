"""The scheduled expiry: an approval ends when the identity document it rests on expires."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.apps import apps as global_apps
from django.db import connection

from apps.kyc.models import KycCase
from apps.kyc.selectors import kyc_is_approved, kyc_status
from apps.kyc.tasks import expire_kyc_cases


@pytest.mark.django_db
def test_passport_expiry_ends_the_approval(player, case_in):
    with time_machine.travel(datetime(2030, 1, 1, 9, 0, tzinfo=UTC), tick=False):
        case = case_in(player, "approved", expires_on=date(2031, 3, 10))
        assert kyc_is_approved(player=player)
    with time_machine.travel(datetime(2031, 3, 9, 23, 59, tzinfo=UTC), tick=False):
        assert expire_kyc_cases.delay().get() == 0
        assert kyc_is_approved(player=player)
    with time_machine.travel(datetime(2031, 3, 10, 2, 0, tzinfo=UTC), tick=False):
        assert expire_kyc_cases.delay().get() == 1
        assert expire_kyc_cases.delay().get() == 0  # idempotent
        assert KycCase.objects.get(pk=case.pk).state == "expired"
        assert kyc_status(player=player) == "expired"
        assert kyc_is_approved(player=player) is False
    history = KycCase.history.filter(id=case.pk).order_by("-history_id").first()
    assert (history.state, history.history_user) == ("expired", None)


@pytest.mark.django_db
def test_lapsed_approval_is_not_an_approval_even_before_the_task_runs(player, case_in):
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        case = case_in(player, "approved", expires_on=date(2030, 5, 1))
    with time_machine.travel(datetime(2030, 5, 1, 0, 30, tzinfo=UTC), tick=False):
        assert KycCase.objects.get(pk=case.pk).state == "approved"  # the 02:00 run has not happened yet
        assert kyc_status(player=player) == "expired"
        assert kyc_is_approved(player=player) is False


@pytest.mark.django_db
def test_daily_schedule_is_a_beat_row_compliance_can_edit():
    """The migration's row (re-created here, because transactional tests elsewhere flush the table)."""
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("apps.kyc.migrations.0002_expiry_schedule")
    editor = SimpleNamespace(connection=connection)
    migration.create_schedule(global_apps, editor)
    migration.create_schedule(global_apps, editor)  # re-running never duplicates it
    task = PeriodicTask.objects.get(name=migration.TASK_NAME)
    assert task.task == "apps.kyc.tasks.expire_kyc_cases"
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("0", "2", "UTC")
    assert task.task in expire_kyc_cases.app.tasks
    migration.remove_schedule(global_apps, editor)
    assert not PeriodicTask.objects.filter(name=migration.TASK_NAME).exists()


@pytest.mark.django_db
def test_player_can_renew_before_the_nightly_run(player, case_in, upload):
    from apps.kyc.services import kyc_submit

    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        case = case_in(player, "approved", expires_on=date(2030, 5, 1))
    with time_machine.travel(datetime(2030, 5, 1, 0, 30, tzinfo=UTC), tick=False):
        upload(player, expires_on=date(2040, 5, 1))
        assert KycCase.objects.get(pk=case.pk).state == "expired"
        assert kyc_submit(player=player).state == "submitted"
        assert expire_kyc_cases.delay().get() == 0
    assert KycCase.history.filter(id=case.pk, state="expired").count() == 1
