"""A real Celery worker process for the fault tests, with one place where it stops to be killed.

Run as `FAULT_BROKER_URL=redis://… python tests/faults/worker_harness.py <report|sweep> <marker> <worker args…>`.
The first report run (or AML sweep) this worker takes writes part of its work, creates the marker
file and then waits forever; the test sees the marker and SIGKILLs the worker there, mid-task. Any
later run (the marker exists) proceeds normally, so a second worker can finish the retried work.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _stop_here_once(marker: Path, note: str = "") -> None:
    if marker.exists():
        return
    marker.write_text(note)
    while True:  # the test kills this process; it never gets past here
        time.sleep(1)


def main() -> None:
    mode, marker = sys.argv[1], Path(sys.argv[2])
    import django

    django.setup()
    if mode == "report":
        from apps.reports import csv_reports

        original = csv_reports.LedgerJournalDaily.rows

        def rows_then_stop(self, *, period):
            yield from original(self, period=period)
            if not marker.exists():
                yield ("half", "written") + ("",) * (len(self.header) - 2)
                _stop_here_once(marker)

        csv_reports.LedgerJournalDaily.rows = rows_then_stop
    elif mode == "sweep":
        from apps.aml import services

        original_record = services.hits_record

        def record_then_stop(*, hits):
            alerts = original_record(hits=hits)  # written inside the sweep's transaction, not committed
            _stop_here_once(marker, f"{len(alerts)} alerts written")
            return alerts

        services.hits_record = record_then_stop
    from config.celery import app

    app.conf.broker_url = os.environ["FAULT_BROKER_URL"]  # the test settings' memory:// is for in-process tests
    app.worker_main(["worker", *sys.argv[3:]])


if __name__ == "__main__":
    main()
