"""Real threads against PostgreSQL: evaluations racing on one player still open one alert and record each hit once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.aml import services
from apps.aml.models import AmlAlert, AmlHit
from apps.core.testing import run_together

from .conftest import T0

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_same_transaction_evaluated_in_parallel_opens_one_alert(player, post, settings):
    settings.AML_REALTIME_EVALUATION = False  # the threads below are the only evaluations
    txns = [post("deposit", player, "10.00", at=T0 + timedelta(minutes=i)) for i in range(4)]
    txns.append(post("deposit", player, "6000.00", at=T0 + timedelta(minutes=5)))  # velocity + large
    results = run_together(6, lambda i: services.evaluate_transaction(transaction_id=txns[-1].pk))
    assert not [r for r in results if isinstance(r, Exception)]
    alert = AmlAlert.objects.get()
    assert AmlHit.objects.count() == 2 and alert.score == 90 and alert.level == "critical"
    assert len(alert.evidence["hits"]) == 2


def test_the_sweep_and_real_time_racing_record_each_hit_once(make_player, post, settings):
    settings.AML_REALTIME_EVALUATION = False
    players = [make_player() for _ in range(3)]
    last = {}
    for p in players:
        for i in range(5):
            last[p.pk] = post("deposit", p, "10.00", at=T0 + timedelta(minutes=i))

    def work(i: int):
        if i == 0:
            return services.monitoring_sweep(now=T0 + timedelta(minutes=10))
        return services.evaluate_transaction(transaction_id=last[players[i % 3].pk].pk)

    results = run_together(6, work)
    assert not [r for r in results if isinstance(r, Exception)]
    assert AmlAlert.objects.count() == 3 and AmlHit.objects.count() == 3
