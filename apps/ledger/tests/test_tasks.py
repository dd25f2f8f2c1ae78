import logging
from decimal import Decimal

import pytest
from django_celery_beat.models import PeriodicTask

from apps.core.money import Money
from apps.ledger import services
from apps.ledger.models import Account, AccountKind
from apps.ledger.tasks import reconcile_ledger

pytestmark = pytest.mark.django_db


def test_nightly_reconciliation_is_scheduled_and_editable():
    task = PeriodicTask.objects.get(name="ledger: nightly reconciliation")
    assert task.task == "apps.ledger.tasks.reconcile_ledger" and task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("3", "30")


def test_reconciliation_reports_ok_then_a_breach_at_error(player, caplog):
    services.deposit_post(player=player, amount=Money(Decimal("10.00"), "EUR"), idempotency_key="r1", reference="d")
    result = reconcile_ledger.delay().get()
    assert result["ok"] is True and result["transactions"] == 1
    Account.objects.filter(player=player, kind=AccountKind.PLAYER_CASH).update(balance=1)  # a forged cache
    with caplog.at_level(logging.ERROR, logger="apps.ledger.tasks"):
        result = reconcile_ledger.delay().get()
    assert result["ok"] is False and any("caches 1" in breach for breach in result["breaches"])
    assert "breach" in caplog.text


def test_compliance_can_edit_schedules_support_cannot(client, staff_user):
    from django.urls import reverse

    task = PeriodicTask.objects.get(name="ledger: nightly reconciliation")
    url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
    compliance, support = staff_user("compliance"), staff_user("support")
    assert compliance.has_perm("django_celery_beat.change_periodictask")
    assert not support.has_perm("django_celery_beat.view_periodictask")
    client.force_login(compliance)
    assert client.get(url).status_code == 200
    client.force_login(support)
    assert client.get(url).status_code == 403
