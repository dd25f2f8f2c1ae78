"""A real Celery worker on Redis (db 5), started by the test, as production runs it.

The suite's settings run tasks eagerly in memory; these tests alone switch the app to the Redis broker
and back. Tests wait for the worker by counting the tasks it finished (task_postrun), never by sleeping
a guessed time; the deadline only stops a broken run from hanging.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection

from apps.aml import tasks
from apps.aml.models import AmlAlert, AmlHit
from apps.core.errors import AccountUnderReview
from apps.core.testing import broker_forget, celery_queues_for_run
from apps.payments import services as payments
from apps.payments.models import Deposit
from config.celery import app

from .conftest import money

pytestmark = pytest.mark.django_db(transaction=True)

# Every run of the suite (several engineers run it at once, with this branch merged) uses its own queue on
# this Redis database, so no run's worker takes another run's tasks; nothing else in the database is touched.
BROKER = os.environ.get("AML_TEST_BROKER_URL", "redis://127.0.0.1:6379/5")
BROKER_DOWN = "redis://127.0.0.1:1/0"  # nothing listens there: an outage without touching the shared server


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    # Drop the cached connection pool and the AMQP helper (queues, routes, producer pool are built from the
    # configuration on first use), so the next send uses the new URL and queue.
    app._pool = None
    app.__dict__.pop("amqp", None)


class Finished:
    """Counts the tasks the worker has finished, by name (the worker thread signals, the test waits)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.order: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, sender=None, task=None, state=None, retval=None, **kwargs) -> None:
        connection.close()  # the worker thread's own connection: never left open past the test database's life
        with self.changed:
            self.counts[task.name] += 1
            self.order.append(task.name)
            self.changed.notify_all()

    def wait_for(self, name: str, count: int, deadline: float = 60.0) -> None:
        end = time.monotonic() + deadline
        with self.changed:
            while self.counts[name] < count:
                remaining = end - time.monotonic()
                assert remaining > 0, f"the worker finished {self.counts[name]} of {count} {name} tasks"
                self.changed.wait(remaining)


@pytest.fixture
def run_queues():
    """The app switched to the Redis broker with this run's own queues: its default queue and its own copy of every
    routed one (AML's `aml`), so the real-time evaluations below go through the route, not around it."""
    queue = f"aml-test-{uuid.uuid4().hex[:12]}"
    routes, queues = celery_queues_for_run(queue)
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "worker_hijack_root_logger", "task_default_queue",
                                            "task_routes")}
    app.conf.task_always_eager = False
    app.conf.worker_hijack_root_logger = False  # keep pytest's log capture
    app.conf.task_default_queue = queue
    app.conf.task_routes = routes
    _use_broker(BROKER)
    try:
        yield queues
    finally:
        app.conf.update(saved)
        _use_broker(saved["broker_url"])
        broker_forget(BROKER, queues)


def _start_worker(queues: list[str]):
    """One worker consuming all of the run's queues, as production's consumes `celery,aml` (Procfile)."""
    return start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30, queues=queues)


@pytest.fixture
def worker(run_queues):
    finished = Finished()
    task_postrun.connect(finished, weak=False)
    try:
        with _start_worker(run_queues):
            yield finished
    finally:
        task_postrun.disconnect(finished)


@pytest.fixture
def kyc_approved(monkeypatch):
    from apps.kyc import selectors as kyc_selectors

    monkeypatch.setattr(kyc_selectors, "kyc_is_approved", lambda *, player: True)


def _deposits(player, count: int, amount: str = "10.00") -> None:
    """Sandbox deposits through payments: each posting is announced on commit and enqueued on the broker."""
    for _ in range(count):
        payments.deposit_create(player=player, amount=money(amount), method="sandbox", idempotency_key=f"d-{time.monotonic_ns()}")


def test_a_deposit_pattern_breaking_a_rule_opens_exactly_one_alert_and_a_rerun_sweep_none_more(worker, player):
    _deposits(player, 6)
    worker.wait_for("apps.aml.tasks.evaluate_transactions", 6)
    alert = AmlAlert.objects.get(player=player)
    assert (alert.rule, alert.level, alert.score) == ("deposit_velocity", "medium", 40)
    hits = AmlHit.objects.count()
    tasks.monitoring_sweep.delay()
    tasks.monitoring_sweep.delay()
    worker.wait_for("apps.aml.tasks.monitoring_sweep", 2)
    assert AmlAlert.objects.count() == 1 and AmlHit.objects.count() == hits


def test_a_task_lost_while_the_broker_was_down_is_caught_by_the_sweep(worker, player, monkeypatch):
    from apps.aml import apps as aml_apps

    lost = []
    monkeypatch.setattr(aml_apps.logger, "warning", lambda message, *args, **kwargs: lost.append(args[0]))
    monkeypatch.setattr(aml_apps, "_skip_until", 0.0)
    _use_broker(BROKER_DOWN)
    _deposits(player, 5)  # the money moves; the real-time tasks cannot be sent
    # The first send failed; the next ones were not even tried (each try stalls the request for seconds).
    assert lost == ["apps.aml.tasks.evaluate_transactions"] and aml_apps._skip_until > 0
    assert Deposit.objects.filter(player=player, status="completed").count() == 5
    _use_broker(BROKER)
    assert not AmlAlert.objects.exists()
    assert worker.counts["apps.aml.tasks.evaluate_transactions"] == 0
    tasks.monitoring_sweep.delay()
    worker.wait_for("apps.aml.tasks.monitoring_sweep", 1)
    assert AmlAlert.objects.get(player=player).rule == "deposit_velocity"


def test_a_critical_alert_blocks_a_withdrawal_and_its_resolution_unblocks_it(worker, player, kyc_approved, officer):
    from apps.aml import services

    _deposits(player, 4)
    _deposits(player, 1, amount="5000.00")  # the fifth deposit within the hour (40), and a large one (50): critical
    worker.wait_for("apps.aml.tasks.evaluate_transactions", 5)
    alert = AmlAlert.objects.get(player=player)
    assert alert.level == "critical" and alert.freezes_withdrawals
    with pytest.raises(AccountUnderReview):
        payments.withdrawal_request(player=player, amount=money("100.00"), idempotency_key="w1")
    services.alert_transition(alert_id=alert.pk, actor=officer, action="investigate", note="source of funds requested")
    services.alert_transition(alert_id=alert.pk, actor=officer, action="dismiss", note="inheritance, documented")
    withdrawal = payments.withdrawal_request(player=player, amount=money("100.00"), idempotency_key="w2")
    assert withdrawal.status == "requested"


def test_postings_batched_by_a_web_process_are_all_evaluated_by_the_worker(worker, player, monkeypatch):
    """As production runs it (AML_REALTIME_BATCH_SECONDS): the deposits' ids go out together, the alert still comes."""
    from django.apps import apps as django_apps

    carried = []
    monkeypatch.setattr(django_apps.get_app_config("aml").batcher, "window", 1.0)
    record = lambda sender=None, args=None, **kwargs: carried.append(list(args[0]))  # noqa: E731
    task_postrun.connect(record, sender=tasks.evaluate_transactions, weak=False)
    try:
        _deposits(player, 6)
        deadline = time.monotonic() + 60
        while sum(map(len, carried)) < 6:
            assert time.monotonic() < deadline, f"{carried} evaluated"
            time.sleep(0.05)
    finally:
        task_postrun.disconnect(record, sender=tasks.evaluate_transactions)
    deposited = Deposit.objects.filter(player=player).values_list("ledger_transaction_id", flat=True)
    assert sorted(i for batch in carried for i in batch) == sorted(deposited)
    assert max(map(len, carried)) > 1  # batched: fewer tasks than postings
    assert AmlAlert.objects.get(player=player).rule == "deposit_velocity"


def test_a_sweep_sent_behind_a_backlog_of_aml_evaluations_is_not_kept_waiting_by_it(run_queues):
    """AML's real-time tasks are routed to a queue of their own, which the worker takes from in turn with the default
    one: a sweep (or a report run) sent after thousands of evaluations runs next, not after them."""
    default_queue, aml_queue = run_queues
    for _ in range(30):
        tasks.evaluate_transactions.delay([])
    tasks.monitoring_sweep.delay()
    client = redis.Redis.from_url(BROKER)
    assert (client.llen(aml_queue), client.llen(default_queue)) == (30, 1)  # the route, on the real broker
    finished = Finished()
    task_postrun.connect(finished, weak=False)
    try:
        with _start_worker(run_queues):
            finished.wait_for("apps.aml.tasks.monitoring_sweep", 1)
            finished.wait_for("apps.aml.tasks.evaluate_transactions", 30)
    finally:
        task_postrun.disconnect(finished)
    # On one queue it would have been 31st; taken in turn, it is first or second.
    assert finished.order.index("apps.aml.tasks.monitoring_sweep") <= 1, finished.order
