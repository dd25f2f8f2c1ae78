"""Report runs: asking for one, producing its file, and sweeping runs a dead worker left behind.

A file becomes visible only complete: rows are written to a temp file, the checksum is taken, the
schema is checked, and only then is the file moved into private storage and the run marked `done`
in one step. Any failure on the way leaves the run `failed` with the error and no file, so a
half-written file is never marked `done` (a worker killed outright leaves a `running` run, which
report_run_sweep_stale fails and queues again).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction

from apps.core import clock
from apps.core.errors import InvalidState, ValidationFailed

from .models import ReportRun, RunStatus
from .registry import REGISTRY, ReportInvalid, parse_period, report_type

logger = logging.getLogger(__name__)

# A run still `running` this long after it started belongs to a dead worker. Short enough that a daily DGOJ
# file started at 02:15 Madrid time and lost is produced again before its 04:00 deadline (REPORTS.md);
# a slow run that is still alive loses nothing (its _finish refuses once the sweeper failed it).
STALE_AFTER = timedelta(minutes=int(getattr(settings, "REPORTS_STALE_AFTER_MINUTES", 40)))
# A run still `queued` after this long was never delivered (the broker was down when it was asked for, or
# lost the message): the sweeper (every 15 minutes) sends it again. A second delivery is harmless: only a
# `queued` run is taken (_start).
RESEND_QUEUED_AFTER = timedelta(minutes=10)


def _send(run_id: int) -> None:
    """Hand the run to a worker; with the broker down, log it and leave the run `queued` for the sweeper.

    Called after commit: raising here would turn an accepted request (the run is saved) into a 500, and
    the run would wait for nobody. A report is never urgent to the second, so no retry loop stalls the request.
    """
    from .tasks import execute_report_run

    try:
        execute_report_run.apply_async(args=(run_id,), retry=False)
    except Exception:
        logger.error("reports: could not send report run %s to the broker; the sweeper sends it again", run_id, exc_info=True)


def _validated(report_type_code: str, period: str) -> str:
    if report_type_code not in REGISTRY:
        raise ValidationFailed(details={"type": [f"Unknown report type; known: {', '.join(sorted(REGISTRY))}."]})
    try:
        return parse_period(REGISTRY[report_type_code].period_kind, period).label
    except ValueError as exc:
        raise ValidationFailed(details={"period": [str(exc)]}) from None


def _lock_period(report_type: str, period: str) -> None:
    """Serialize version numbering per type and period until commit.

    The first run of a period has no row to lock with SELECT ... FOR UPDATE, so PostgreSQL takes a
    transaction-scoped advisory lock on the pair; SQLite (the demo) serializes writers anyway.
    """
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"reports:{report_type}:{period}".encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@transaction.atomic
def report_run_request(*, report_type: str, period: str, requested_by=None, schedule_name: str = "", enqueue: bool = True) -> ReportRun:
    """Queue a run of `report_type` for `period`; a period already run gets a new version, never an overwrite.

    The new version supersedes the latest earlier run of the same type and period that was `done`
    (what the regulator may have received); DGOJ files then carry a rectification pointing at it.
    """
    label = _validated(report_type, period)
    _lock_period(report_type, label)
    existing = list(ReportRun.objects.select_for_update().filter(report_type=report_type, period=label).order_by("-version"))
    run = ReportRun.objects.create(
        report_type=report_type,
        period=label,
        version=existing[0].version + 1 if existing else 1,
        supersedes=next((r for r in existing if r.status == RunStatus.DONE), None),
        requested_by=requested_by,
        schedule_name=schedule_name,
    )
    if enqueue:
        transaction.on_commit(partial(_send, run.pk))
    return run


@transaction.atomic
def _start(run_id: int) -> ReportRun | None:
    run = ReportRun.objects.select_for_update().get(pk=run_id)
    if run.status != RunStatus.QUEUED:
        return None  # a second delivery of the task: the first one owns the run
    run.start()
    run.started_at = clock.now()
    run.save(update_fields=["status", "started_at"])
    return run


@transaction.atomic
def _fail(run_id: int, error: str) -> ReportRun:
    run = ReportRun.objects.select_for_update().get(pk=run_id)
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        run.fail()
        run.error = error[:20000]
        run.finished_at = clock.now()
        run._change_reason = "failed"
        run.save(update_fields=["status", "error", "finished_at"])
    return run


class _CompleteFile(File):
    """A finished temp file: FileSystemStorage moves it into place (rename) instead of copying it."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _partial_dir() -> Path:
    directory = Path(settings.PRIVATE_MEDIA_ROOT) / "reports" / ".partial"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def report_run_execute(*, run_id: int) -> ReportRun:
    """Produce the run's file. Safe to call twice: only a `queued` run is taken."""
    run = _start(run_id)
    if run is None:
        return ReportRun.objects.get(pk=run_id)
    kind = report_type(run.report_type)
    period = parse_period(kind.period_kind, run.period)
    handle, temp_name = tempfile.mkstemp(prefix=f"{run.report_type}-{run.pk}-", suffix=f".{kind.fmt}", dir=_partial_dir())
    temp_path = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as fh:
            rows = kind.write(fh, period=period, run=run)
            fh.flush()
            os.fsync(fh.fileno())
        kind.validate(temp_path)
        digest = hashlib.sha256()
        with temp_path.open("rb") as fh:
            for block in iter(partial(fh.read, 1 << 20), b""):
                digest.update(block)
        file_name = kind.file_name(period=period, run=run)
        return _finish(run.pk, temp_path=temp_path, file_name=file_name, rows=rows, sha256=digest.hexdigest(), record_id=run.record_id)
    except ReportInvalid as exc:
        logger.warning("report run %s failed validation: %s", run.pk, exc)
        return _fail(run.pk, "The file fails its schema:\n" + "\n".join(exc.errors))
    except Exception as exc:
        logger.exception("report run %s failed", run.pk)
        return _fail(run.pk, f"{type(exc).__name__}: {exc}")
    finally:
        temp_path.unlink(missing_ok=True)


@transaction.atomic
def _finish(run_id: int, *, temp_path: Path, file_name: str, rows: int, sha256: str, record_id: str) -> ReportRun:
    run = ReportRun.objects.select_for_update().get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        raise InvalidState("The run is no longer running (a sweeper failed it).")
    with temp_path.open("rb") as fh:
        stored = default_storage.save(run.file.field.generate_filename(run, file_name), _CompleteFile(fh, name=file_name))
    run.file.name = stored
    run.file_name = file_name
    run.rows = rows
    run.sha256 = sha256
    run.record_id = record_id
    run.finished_at = clock.now()
    run.finish()
    run._change_reason = "done"
    run.save(update_fields=["file", "file_name", "rows", "sha256", "record_id", "finished_at", "status"])
    return run


def report_run_sweep_stale(*, now=None, older_than: timedelta = STALE_AFTER) -> list[ReportRun]:
    """Fail runs a dead worker left `running` and queue each again as a new version: returns the new runs.

    Runs left `queued` (never delivered: the broker was down) are sent again as they are, same version.
    """
    now = now or clock.now()
    _remove_abandoned_partials(older_than=older_than, now=now)
    undelivered = ReportRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=now - RESEND_QUEUED_AFTER)
    for run_id in undelivered.values_list("pk", flat=True):
        _send(run_id)
    retried = []
    stale_ids = list(
        ReportRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=now - older_than).values_list("pk", flat=True)
    )
    for run_id in stale_ids:
        with transaction.atomic():
            run = ReportRun.objects.select_for_update().get(pk=run_id)
            if run.status != RunStatus.RUNNING:
                continue
            run.fail()
            run.error = f"The worker stopped while producing the file (still running at {now.isoformat()}); queued again."
            run.finished_at = now
            run._change_reason = "stale: worker lost"
            run.save(update_fields=["status", "error", "finished_at"])
            retried.append(
                report_run_request(
                    report_type=run.report_type, period=run.period, requested_by=run.requested_by,
                    schedule_name=run.schedule_name or "sweeper retry",
                )
            )
    return retried


def _remove_abandoned_partials(*, older_than: timedelta, now) -> int:
    """A killed worker leaves its temp file behind (never in storage, never `done`): remove it once stale."""
    removed = 0
    cutoff = (now - older_than).timestamp()
    for leftover in _partial_dir().iterdir():
        if leftover.is_file() and leftover.stat().st_mtime < cutoff:
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def report_run_scheduled(*, report_type: str, schedule_name: str, today=None) -> ReportRun:
    """What a beat schedule asks for: the last complete period in the regulator's time zone."""
    from zoneinfo import ZoneInfo

    from .registry import period_containing

    kind = REGISTRY[report_type]
    local_today = today or clock.now().astimezone(ZoneInfo(kind.time_zone)).date()
    period = period_containing(kind.period_kind, local_today).previous()
    return report_run_request(report_type=report_type, period=period.label, schedule_name=schedule_name)
