"""A batch of postings evaluated in one set-based pass (services.evaluate_transactions), as the worker runs the web's
batches: the alerts of evaluating each posting on its own, the sweep's too, none twice, at a cost that does not grow
with the batch."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.aml import services
from apps.aml.models import AmlAlert, AmlHit, RuleKind
from apps.ledger.models import LedgerTransaction

from .conftest import T0

pytestmark = pytest.mark.django_db

NOW = T0 + timedelta(days=3, hours=1)  # after every posting below; shared identity's hits are detected now


def _mixed_workload(make_player, post) -> dict:
    """Postings of several players that trip every transaction rule and shared identity, some of them more than once
    or together, mixed with postings that trip nothing. Each player's postings are made in the order they happen."""
    made: dict = {}
    # Deposit velocity on the 5th deposit, then a large deposit within its window: both rules again on the 6th.
    velocity = made["velocity_then_large"] = make_player()
    made["velocity_deposits"] = [post("deposit", velocity, "10.00", at=T0 + timedelta(minutes=i)).pk for i in range(5)]
    made["velocity_deposits"].append(post("deposit", velocity, "6000.00", at=T0 + timedelta(minutes=20)).pk)
    post("bet", velocity, "3.00", at=T0 + timedelta(minutes=25))
    # A single large deposit in another currency (5,500 USD is 5,060 EUR at the demo rate).
    made["large_usd"] = make_player(currency="USD")
    post("deposit", made["large_usd"], "5500.00", at=T0 + timedelta(minutes=3))
    # Structuring: three deposits just below the due-diligence threshold within 24 h.
    made["structuring"] = make_player()
    for i in range(3):
        post("deposit", made["structuring"], "1850.00", at=T0 + timedelta(hours=5 * i))
    # Rapid cycling: deposit, barely play, withdraw.
    made["cycler"] = make_player()
    post("deposit", made["cycler"], "1000.00", at=T0)
    post("bet", made["cycler"], "99.99", at=T0 + timedelta(minutes=5))
    post("withdrawal", made["cycler"], "800.00", at=T0 + timedelta(minutes=10))
    # Change against the player's own 30-day history (3,000 EUR: 100 a day; the next day's 1,000.01 is above 5 ×).
    made["history"] = make_player()
    for days in (29, 20, 10):
        post("deposit", made["history"], "1000.00", at=T0 - timedelta(days=days))
    post("deposit", made["history"], "1000.01", at=T0)
    # Two velocity bursts three days apart: two alerts for one player.
    made["two_bursts"] = make_player()
    for burst in (T0, T0 + timedelta(days=3)):
        for i in range(5):
            post("deposit", made["two_bursts"], "10.00", at=burst + timedelta(minutes=i))
    # Three players on one device: shared identity, found through their (innocent) postings.
    made["trio"] = [make_player(device_id="dev-batch-7") for _ in range(3)]
    for sharer in made["trio"]:
        post("deposit", sharer, "20.00", at=T0 + timedelta(minutes=1))
        post("bet", sharer, "5.00", at=T0 + timedelta(minutes=2))
    # Nothing to see.
    made["quiet"] = make_player()
    post("deposit", made["quiet"], "50.00", at=T0)
    post("bet", made["quiet"], "10.00", at=T0 + timedelta(minutes=1))
    post("withdrawal", made["quiet"], "20.00", at=T0 + timedelta(minutes=2))
    made["ids"] = list(LedgerTransaction.objects.order_by("id").values_list("id", flat=True))
    return made


def _outcome() -> list[tuple]:
    """Every alert with what an officer sees of it, and its hits; not the detection time, which is when it ran."""
    outcome = []
    for alert in AmlAlert.objects.order_by("player_id", "first_hit_at", "id"):
        hits = sorted((h.rule, h.dedup_key, h.score, json.dumps(h.evidence, sort_keys=True)) for h in alert.hits.all())
        evidence = sorted(json.dumps({k: v for k, v in hit.items() if k != "detected_at"}, sort_keys=True)
                          for hit in alert.evidence["hits"])
        outcome.append((alert.player_id, alert.category, alert.rule, alert.score, alert.level, alert.status,
                        alert.freezes_withdrawals, alert.first_hit_at, alert.last_hit_at, tuple(hits), tuple(evidence)))
    return outcome


class _RolledBack(Exception):
    pass


def _evaluated(evaluate) -> list[tuple]:
    """The alerts `evaluate` leaves, rolled back afterwards (a savepoint), so each way of evaluating starts from none."""
    with time_machine.travel(NOW, tick=False):
        try:
            with transaction.atomic():
                evaluate()
                outcome = _outcome()
                raise _RolledBack
        except _RolledBack:
            pass
    return outcome


def test_a_batch_opens_the_alerts_of_one_posting_at_a_time_and_a_rerun_none_more(make_player, post, monkeypatch):
    made = _mixed_workload(make_player, post)
    ids = made["ids"]
    one_at_a_time = _evaluated(lambda: [services.evaluate_transaction(transaction_id=i) for i in ids])

    # The workload is what it says: every rule, ten alerts, one player twice, several rules in one alert.
    by_player = {}
    for alert in one_at_a_time:
        by_player.setdefault(alert[0], []).append(alert)
    assert {hit[0] for alert in one_at_a_time for hit in alert[9]} == set(RuleKind.values) - {RuleKind.SCREENING}
    assert len(one_at_a_time) == 10 and len(by_player[made["two_bursts"].pk]) == 2
    assert made["quiet"].pk not in by_player
    [velocity] = by_player[made["velocity_then_large"].pk]
    # Opened by the velocity pattern at the 5th deposit; the large 6th deposit (both rules again) made it critical.
    assert velocity[2:5] == (RuleKind.DEPOSIT_VELOCITY, 90, "critical") and velocity[6] is True
    fifth, sixth = (str(i) for i in made["velocity_deposits"][4:])
    hits = {(rule, key): json.loads(evidence) for rule, key, _, evidence in velocity[9]}
    assert set(hits) == {("deposit_velocity", fifth), ("deposit_velocity", sixth), ("large_transaction", sixth)}
    assert hits[("deposit_velocity", sixth)]["transaction_ids"] == made["velocity_deposits"]
    # The evidence's transaction ids are each window's deposits, as the rules' own SQL counted them.
    for alert in one_at_a_time:
        for rule, _, _, evidence in alert[9]:
            evidence = json.loads(evidence)
            if rule == RuleKind.DEPOSIT_VELOCITY:
                assert len(evidence["transaction_ids"]) == evidence["deposits"]
            elif rule == RuleKind.STRUCTURING:
                assert len(evidence["transaction_ids"]) == evidence["deposits_in_band"] == 3

    assert _evaluated(lambda: services.evaluate_transactions(transaction_ids=ids)) == one_at_a_time
    assert _evaluated(lambda: services.monitoring_sweep()) == one_at_a_time  # the sweep names and groups them alike

    # Longer than a pass: taken in passes of EVALUATION_BATCH, with the same result.
    passes = []
    original = services._evaluate_pass

    def one_pass(transaction_ids):
        passes.append(len(transaction_ids))
        return original(transaction_ids)

    monkeypatch.setattr(services, "EVALUATION_BATCH", 7)
    monkeypatch.setattr(services, "_evaluate_pass", one_pass)
    assert _evaluated(lambda: services.evaluate_transactions(transaction_ids=ids)) == one_at_a_time
    assert max(passes) == 7 and sum(passes) == len(ids) and len(passes) == -(-len(ids) // 7)
    monkeypatch.undo()

    with time_machine.travel(NOW, tick=False):
        assert len(services.evaluate_transactions(transaction_ids=ids)) == 10
    assert _outcome() == one_at_a_time
    hits, history = AmlHit.objects.count(), AmlAlert.history.count()
    with time_machine.travel(NOW, tick=False):
        assert services.evaluate_transactions(transaction_ids=ids) == []  # the task run twice
        assert services.evaluate_transactions(transaction_ids=[*reversed(ids), *ids[:9]]) == []  # any order, repeats
    assert (AmlHit.objects.count(), AmlAlert.history.count()) == (hits, history)
    assert _outcome() == one_at_a_time


def test_the_queries_of_a_batch_do_not_grow_with_its_size(make_player, post):
    def postings(count: int) -> list[int]:
        """`count` postings, each completing a velocity pattern on its own player, every other one a large deposit too."""
        completing = []
        for n in range(count):
            player = make_player()
            for i in range(4):
                post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
            completing.append(post("deposit", player, "6000.00" if n % 2 else "10.00", at=T0 + timedelta(minutes=5)).pk)
        return completing

    two, fifty = postings(2), postings(50)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        with CaptureQueriesContext(connection) as of_two:
            assert len(services.evaluate_transactions(transaction_ids=two)) == 2
        with CaptureQueriesContext(connection) as of_fifty:
            assert len(services.evaluate_transactions(transaction_ids=fifty)) == 50
    assert AmlHit.objects.filter(rule=RuleKind.LARGE_TRANSACTION).count() == 1 + 25
    assert len(of_fifty) <= len(of_two), [q["sql"][:120] for q in of_fifty.captured_queries]
