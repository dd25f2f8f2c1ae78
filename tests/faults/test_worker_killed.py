"""A Celery worker SIGKILLed while it runs a report or an AML sweep (issue #13, faults).

The worker is a real process (tests/faults/worker_harness.py) on this run's own Redis database and
queue, reading this test's PostgreSQL database; it stops at a known point mid-task, and the test
kills its whole process group there, as an OOM killer or a node loss would.

- A report run: the run is left `running` with half a file in the private `.partial` directory,
  never `done` and never in storage; the stale sweeper fails it and queues a new version, which a
  new worker completes with the whole file.
- An AML sweep: its alerts were written inside the sweep's one transaction, which dies with the
  connection: no alert, no hit, the watermark unmoved; the next sweep finds the same alerts once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection

from apps.aml import services as aml_services
from apps.aml.models import AmlAlert, AmlHit, Watermark
from apps.core import clock
from apps.core.money import Money
from apps.core.testing import broker_forget, broker_leftovers, celery_queues_for_run
from apps.ledger.checks import verify_ledger
from apps.ledger.models import Entry
from apps.payments import services as payments
from apps.reports.models import ReportRun, RunStatus
from apps.reports.registry import report_type
from apps.reports.services import report_run_request, report_run_sweep_stale
from config.celery import app

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "faults" / "worker_harness.py"
BROKER = os.environ.get("AML_TEST_BROKER_URL", "redis://127.0.0.1:6379/5")
DEADLINE = 90.0  # only stops a broken run from hanging; the test waits on states, not on time


def _wait_until(predicate, what: str, *, process: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + DEADLINE
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the worker exited ({process.returncode}) before {what}")
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.2)


class Workers:
    """Starts harness workers on this run's own queues of its Redis database and kills them by process group."""

    def __init__(self, queues: list[str], media: Path) -> None:
        self.queues, self.media, self.processes = queues, media, []
        db = settings.DATABASES["default"]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "PRIVATE_MEDIA_ROOT": str(media),
            "AML_REALTIME_EVALUATION": "false",
            "PYTHONPATH": str(ROOT),
            "FAULT_BROKER_URL": BROKER,
        }

    def start(self, mode: str, marker: Path) -> subprocess.Popen:
        # Every queue of the run, as production's worker consumes `celery,aml` (Procfile).
        args = [sys.executable, str(HARNESS), mode, str(marker), "-Q", ",".join(self.queues), "-P", "prefork", "-c", "1",
                "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=(self.media.parent / f"worker-{len(self.processes)}.log").open("wb"))
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        # The killed workers' messages are still in kombu's `unacked` hash: an hour later any worker on this database
        # would put them back into a `faults-…` queue nobody consumes. Only what this run made is deleted.
        broker_forget(BROKER, self.queues)


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.__dict__.pop("amqp", None)


@pytest.fixture
def workers(settings, private_media, tmp_path):
    queue = f"faults-{uuid.uuid4().hex[:12]}"
    routes, queues = celery_queues_for_run(queue)
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue", "task_routes")}
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    app.conf.task_routes = routes
    settings.AML_REALTIME_EVALUATION = False
    _use_broker(BROKER)
    pool = Workers(queues, private_media)
    try:
        yield pool
    finally:
        pool.stop_all()
        app.conf.update(saved)
        _use_broker(saved["broker_url"])


@pytest.fixture(autouse=True)
def shipped_aml_rules(db):
    """A transactional test empties every table, the AML rules of migration 0002 included: put them back."""
    from importlib import import_module

    from apps.aml.models import AmlRule

    for rule in import_module("apps.aml.migrations.0002_default_rules_and_schedules").RULES:
        AmlRule.objects.get_or_create(kind=rule["kind"], defaults=rule)


def _stored_reports(media: Path) -> list[Path]:
    root = media / "reports"
    return [p for p in root.rglob("*") if p.is_file() and ".partial" not in p.parts] if root.exists() else []


def test_a_worker_killed_mid_report_leaves_it_failed_then_a_new_version_is_done(workers, private_media, tmp_path, make_player):
    player = make_player()
    for n in range(3):
        payments.deposit_create(player=player, amount=Money(Decimal("10.00"), "EUR"), method="sandbox", idempotency_key=f"wk-{n}")
    marker = tmp_path / "report.stopped"
    first = workers.start("report", marker)
    # The report's day is in its market's time zone, not UTC's: late in the UTC evening the deposits
    # above are already on the next local day.
    period = clock.now().astimezone(ZoneInfo(report_type("ledger_journal_daily").time_zone)).date().isoformat()
    run = report_run_request(report_type="ledger_journal_daily", period=period)  # queued on commit, on the broker
    _wait_until(marker.exists, "the worker to stop mid-report", process=first)
    assert ReportRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    assert len(list((private_media / "reports" / ".partial").iterdir())) == 1  # its half-written temp file

    workers.kill(first)
    connection.close()
    killed = ReportRun.objects.get(pk=run.pk)
    assert killed.status == RunStatus.RUNNING and not killed.file and killed.sha256 == ""  # never done, never stored
    assert _stored_reports(private_media) == []

    # The sweeper (a beat schedule) finds it stale, fails it and asks for a new version; a new worker makes it.
    second = workers.start("report", marker)
    (retry,) = report_run_sweep_stale(now=clock.now() + timedelta(hours=3))
    _wait_until(lambda: ReportRun.objects.get(pk=retry.pk).status in (RunStatus.DONE, RunStatus.FAILED), "the retried run", process=second)
    failed, done = ReportRun.objects.get(pk=run.pk), ReportRun.objects.get(pk=retry.pk)
    assert failed.status == RunStatus.FAILED and "worker stopped" in failed.error and not failed.file
    assert done.status == RunStatus.DONE and done.version == failed.version + 1, done.error
    content = done.file.open("rb").read()
    entries = Entry.objects.count()  # the journal has one row per ledger entry of the day: 3 deposits, 2 legs each
    assert b"half,written" not in content and done.rows == entries == 6 and content.count(b"\r\n") == entries + 1
    assert list((private_media / "reports" / ".partial").iterdir()) == []
    assert not ReportRun.objects.filter(status=RunStatus.DONE, sha256="").exists()
    _assert_the_broker_is_left_clean(workers)


def test_a_worker_killed_mid_aml_sweep_commits_nothing_and_the_next_sweep_finds_the_alert_once(workers, tmp_path, make_player):
    from apps.aml.tasks import monitoring_sweep

    player = make_player()
    for n in range(6):  # the deposit-velocity rule's pattern
        payments.deposit_create(player=player, amount=Money(Decimal("10.00"), "EUR"), method="sandbox", idempotency_key=f"ws-{n}")
    watermark_before = Watermark.objects.filter(name=aml_services.MONITORING_WATERMARK).values_list("last_id", flat=True).first()
    marker = tmp_path / "sweep.stopped"
    worker = workers.start("sweep", marker)
    monitoring_sweep.delay()
    _wait_until(marker.exists, "the worker to stop mid-sweep (alerts written, not committed)", process=worker)
    assert marker.read_text() == "1 alerts written"  # in the sweep's open transaction
    workers.kill(worker)
    # PostgreSQL rolls the dead connection's transaction back as the socket closes; wait for the backend to go.
    _wait_until(lambda: not _sweep_backend_alive(), "the killed worker's backend to end")
    assert not AmlAlert.objects.exists() and not AmlHit.objects.exists()
    assert Watermark.objects.filter(name=aml_services.MONITORING_WATERMARK).values_list("last_id", flat=True).first() == watermark_before

    result = aml_services.monitoring_sweep()  # the next scheduled sweep (the lock the dead one held is free)
    alert = AmlAlert.objects.get(player=player)
    assert alert.rule == "deposit_velocity" and result.alerts == 1
    aml_services.monitoring_sweep()
    assert AmlAlert.objects.count() == 1
    assert verify_ledger().ok
    _assert_the_broker_is_left_clean(workers)


def _assert_the_broker_is_left_clean(workers: Workers) -> None:
    """The killed worker's message is still unacked on the shared Redis database (kombu would restore it into this
    run's queue an hour later); stopping the run's workers deletes it and the run's queues, and only those."""
    _, unacked = broker_leftovers(BROKER, workers.queues)
    assert unacked  # the task the killed worker had taken (and a live worker's not yet acknowledged, if any)
    workers.stop_all()
    assert broker_leftovers(BROKER, workers.queues) == (set(), [])


def _sweep_backend_alive() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
        )
        return cursor.fetchone()[0] > 0
