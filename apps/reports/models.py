"""Report runs: one row per file we produce for a regulator, never overwritten.

A second run of the same type and period is a new version that points at the run it supersedes, so
the register of what was sent (and when, and by whom) survives every correction (DGOJ: a rectified
record voids the old one logically, never physically).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


def report_upload_to(instance: ReportRun, filename: str) -> str:
    return f"reports/{instance.report_type}/{instance.period}/{filename}"


class ReportRun(FSMModelMixin, models.Model):
    report_type = models.CharField(max_length=40, db_index=True)
    period = models.CharField(max_length=10, help_text="YYYY-MM-DD (daily), YYYY-MM (monthly) or YYYY-Qn (quarterly).")
    version = models.PositiveIntegerField(default=1, help_text="1 for the first run of this type and period, then 2, 3, ...")
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by",
        help_text="The earlier run of the same type and period this one replaces.",
    )
    status = FSMField(default=RunStatus.QUEUED, choices=RunStatus.choices, protected=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    schedule_name = models.CharField(max_length=200, blank=True, help_text="The beat schedule that asked for it, if any.")
    file = models.FileField(upload_to=report_upload_to, max_length=255, blank=True)
    file_name = models.CharField(max_length=200, blank=True, help_text="The regulator's file name.")
    rows = models.BigIntegerField(default=0, help_text="Data rows (CSV) or player entries (XML).")
    sha256 = models.CharField(max_length=64, blank=True)
    record_id = models.CharField(max_length=50, blank=True, help_text="DGOJ RegistroId of the records in this file.")
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("request_reportrun", "Can ask for a report run"),
            ("download_reportrun", "Can download report files"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["report_type", "period", "version"], name="reports_run_type_period_version_unique"),
            models.CheckConstraint(
                condition=~models.Q(status="done") | (~models.Q(file="") & ~models.Q(sha256="")),
                name="reports_run_done_has_file",
            ),
        ]
        indexes = [models.Index(fields=["status", "started_at"], name="reports_run_status_started")]

    def __str__(self) -> str:
        return f"{self.report_type} {self.period} v{self.version} ({self.status})"

    # Transitions: called only by apps.reports.services.
    @transition(field=status, source=RunStatus.QUEUED, target=RunStatus.RUNNING)
    def start(self) -> None: ...

    @transition(field=status, source=RunStatus.RUNNING, target=RunStatus.DONE)
    def finish(self) -> None: ...

    @transition(field=status, source=[RunStatus.QUEUED, RunStatus.RUNNING], target=RunStatus.FAILED)
    def fail(self) -> None: ...
