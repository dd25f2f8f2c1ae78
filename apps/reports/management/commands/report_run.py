"""`python manage.py report_run TYPE --period PERIOD [--out DIR]` (API.md, Operations)."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ValidationFailed
from apps.reports.models import RunStatus
from apps.reports.registry import REGISTRY
from apps.reports.services import report_run_execute, report_run_request


class Command(BaseCommand):
    help = "Produce one report now and print the path of each file written."

    def add_arguments(self, parser):
        parser.add_argument("type", help=f"One of: {', '.join(sorted(REGISTRY))}.")
        parser.add_argument("--period", required=True, help="YYYY-MM-DD (daily), YYYY-MM (monthly) or YYYY-Qn (quarterly).")
        parser.add_argument("--out", help="Also copy the file into this directory and print that path.")

    def handle(self, *args, **options):
        try:
            run = report_run_request(
                report_type=options["type"], period=options["period"], schedule_name="manage.py report_run", enqueue=False
            )
        except ValidationFailed as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.details.items())) from None
        run = report_run_execute(run_id=run.pk)
        if run.status != RunStatus.DONE:
            raise CommandError(f"Run {run.pk} failed: {run.error}")
        path = Path(run.file.path)
        if options["out"]:
            out = Path(options["out"])
            out.mkdir(parents=True, exist_ok=True)
            path = Path(shutil.copyfile(path, out / run.file_name))
        self.stdout.write(str(path))
