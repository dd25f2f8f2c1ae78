"""AML monitoring: rules as rows an officer tunes, alerts an officer works, the screening list, and the
watermarks that let every consumer of the ledger's log resume where it stopped.

The code owns the rule *kinds* (how a pattern is computed); the rows own the figures (thresholds,
windows, scores), so compliance tunes them in the admin, with history, without a deploy.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


class RuleKind(models.TextChoices):
    DEPOSIT_VELOCITY = "deposit_velocity", "Deposit velocity"
    LARGE_TRANSACTION = "large_transaction", "Single large transaction"
    STRUCTURING = "structuring", "Structuring below the due-diligence threshold"
    RAPID_CYCLING = "rapid_cycling", "Rapid cycling (deposit, little play, withdraw)"
    HISTORY_CHANGE = "history_change", "Change against the player's own history"
    SHARED_IDENTITY = "shared_identity", "Shared device, IP address or payment instrument"
    SCREENING = "screening", "Sanctions / PEP screening match"


# Which typed fields each kind reads; the admin form refuses a row that lacks one (AmlRule.clean).
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    RuleKind.DEPOSIT_VELOCITY: ("count", "window_minutes"),
    RuleKind.LARGE_TRANSACTION: ("amount_eur",),
    RuleKind.STRUCTURING: ("count", "window_minutes", "amount_eur", "ratio"),
    RuleKind.RAPID_CYCLING: ("window_minutes", "ratio"),
    RuleKind.HISTORY_CHANGE: ("window_minutes", "lookback_days", "ratio", "amount_eur"),
    RuleKind.SHARED_IDENTITY: ("count", "lookback_days"),
    RuleKind.SCREENING: ("ratio",),
}


class AmlRule(models.Model):
    """One rule kind's tunable figures. Created by migration 0002 with the shipped defaults; never added or deleted by hand."""

    kind = models.CharField(max_length=32, choices=RuleKind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    score = models.PositiveSmallIntegerField(
        help_text="Added to the alert's score when this rule hits (levels: <30 low, 30–59 medium, 60–84 high, ≥85 critical)."
    )
    count = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many deposits (velocity, structuring) or players (shared identity)."
    )
    window_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="The window looked back over from each transaction.")
    lookback_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="History compared against (history change) or the shared-identity window."
    )
    amount_eur = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True,
        help_text="EUR: the large-transaction threshold, the due-diligence threshold (structuring) "
        "or the daily-average floor (history change).",
    )
    ratio = models.DecimalField(
        max_digits=8, decimal_places=4, null=True, blank=True,
        help_text="Structuring: lower band as a fraction of the threshold (0.90); rapid cycling: wagered fraction of deposits (0.10); "
        "history change: multiple of the daily average (5); screening: name similarity 0–1 (0.88).",
    )
    description = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "AML rule"
        ordering = ("kind",)
        constraints = [
            models.CheckConstraint(condition=models.Q(ratio__isnull=True) | models.Q(ratio__gt=0), name="aml_rule_ratio_positive"),
            models.CheckConstraint(
                condition=models.Q(amount_eur__isnull=True) | models.Q(amount_eur__gt=0), name="aml_rule_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()

    def clean(self) -> None:
        missing = {name: ["This rule needs it."] for name in RULE_FIELDS.get(self.kind, ()) if getattr(self, name) in (None, "")}
        if missing:
            raise ValidationError(missing)
        if self.kind == RuleKind.STRUCTURING and self.ratio is not None and self.ratio >= 1:
            raise ValidationError({"ratio": ["The lower band must be below 1 (the threshold itself)."]})
        if self.kind == RuleKind.SCREENING and self.ratio is not None and self.ratio > 1:
            raise ValidationError({"ratio": ["A similarity is at most 1."]})


class AlertLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


# Sort rank of the levels: the queue shows critical first.
LEVEL_RANK = {AlertLevel.LOW: 1, AlertLevel.MEDIUM: 2, AlertLevel.HIGH: 3, AlertLevel.CRITICAL: 4}


def level_for_score(score: int) -> str:
    """The issue's bands: low < 30, medium 30–59, high 60–84, critical ≥ 85."""
    if score >= 85:
        return AlertLevel.CRITICAL
    if score >= 60:
        return AlertLevel.HIGH
    if score >= 30:
        return AlertLevel.MEDIUM
    return AlertLevel.LOW


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    INVESTIGATING = "investigating", "Investigating"
    DISMISSED = "dismissed", "Dismissed"
    ESCALATED = "escalated", "Escalated (SAR filed)"


ACTIVE_STATUSES = (AlertStatus.OPEN, AlertStatus.INVESTIGATING)
# A freeze outlives the SAR: the FIU may still ask to hold the funds (EU AMLD art. 35), so an escalated
# alert keeps holding withdrawals until an officer lifts the freeze with a note.
FREEZING_STATUSES = (AlertStatus.OPEN, AlertStatus.INVESTIGATING, AlertStatus.ESCALATED)


class AlertCategory(models.TextChoices):
    MONITORING = "monitoring", "Transaction monitoring"
    SCREENING = "screening", "Sanctions / PEP screening"


class AmlAlert(FSMModelMixin, models.Model):
    """One case for an officer: hits on a player within a rule's window of the alert's hits add into it (one alert, not many)."""

    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="aml_alerts")
    category = models.CharField(max_length=16, choices=AlertCategory.choices, default=AlertCategory.MONITORING)
    rule = models.CharField(
        max_length=32, choices=RuleKind.choices, help_text="The rule that opened the alert; all hits are in the evidence."
    )
    score = models.PositiveIntegerField(default=0)
    level = models.CharField(max_length=16, choices=AlertLevel.choices, default=AlertLevel.LOW)
    status = FSMField(default=AlertStatus.OPEN, choices=AlertStatus.choices, protected=True)
    evidence = models.JSONField(default=dict, help_text="Frozen at detection: per hit the rule, its figures and the transaction ids.")
    freezes_withdrawals = models.BooleanField(
        default=False,
        help_text="Withdrawals are refused (and pending ones cannot be approved) until the alert is dismissed or an officer "
        "lifts the freeze with a note; filing a SAR (escalated) does not end it.",
    )
    first_hit_at = models.DateTimeField(null=True, blank=True, help_text="When the earliest pattern in this alert happened.")
    last_hit_at = models.DateTimeField(
        null=True, blank=True, help_text="When the latest pattern happened: a hit within its rule's window of it adds in here."
    )
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    last_note = models.TextField(blank=True, help_text="The officer's note on the latest transition (all notes are in the history).")
    sar_reference = models.CharField(max_length=100, blank=True, help_text="The suspicious activity report's reference (escalated).")
    sar_filed_on = models.DateField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "AML alert"
        permissions = [("work_amlalert", "Can work AML alerts (assign, investigate, dismiss, escalate, freeze)")]
        constraints = [
            # No "one active alert per player" constraint: hits add into an active alert only within their
            # rule's window, so a pattern weeks later is a new case. Concurrent evaluations of one player are
            # serialised by a per-player lock in apps.aml.services instead.
            models.CheckConstraint(
                condition=~models.Q(status="escalated") | (~models.Q(sar_reference="") & models.Q(sar_filed_on__isnull=False)),
                name="aml_alert_escalated_has_sar",
            ),
        ]
        indexes = [models.Index(fields=["player", "status"], name="aml_alert_player_status")]

    def __str__(self) -> str:
        return f"AML alert #{self.pk} ({self.level}, {self.status})"

    # Transitions: called only by apps.aml.services, which locks the row and records the note.
    @transition(field=status, source=AlertStatus.OPEN, target=AlertStatus.INVESTIGATING)
    def investigate(self) -> None: ...

    @transition(field=status, source=AlertStatus.INVESTIGATING, target=AlertStatus.DISMISSED)
    def dismiss(self) -> None: ...

    @transition(field=status, source=AlertStatus.INVESTIGATING, target=AlertStatus.ESCALATED)
    def escalate(self) -> None: ...


class AmlHit(models.Model):
    """One rule firing on one piece of evidence. The unique key is what makes every evaluation idempotent:
    the sweep re-reading the same window, or a real-time task run twice, finds its hit already recorded.
    """

    alert = models.ForeignKey(AmlAlert, on_delete=models.PROTECT, related_name="hits")
    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=32, choices=RuleKind.choices)
    dedup_key = models.CharField(max_length=200, help_text="The anchoring transaction id, shared identifier or list entry.")
    score = models.PositiveSmallIntegerField()
    evidence = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "AML hit"
        constraints = [models.UniqueConstraint(fields=["player", "rule", "dedup_key"], name="aml_hit_unique")]

    def __str__(self) -> str:
        return f"{self.rule} on player {self.player_id} ({self.dedup_key})"


class Watermark(models.Model):
    """How far a consumer of the ledger's log has read (ARCHITECTURE.md, "Events leave through the ledger's own log")."""

    name = models.CharField(max_length=64, unique=True)
    last_id = models.BigIntegerField(default=0)
    value = models.CharField(max_length=128, blank=True, help_text="A consumer's own marker, e.g. the screening list version screened.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_id}"


class ScreeningList(models.Model):
    """A loaded sanctions or PEP list; loading a changed file replaces its entries and triggers a re-screen."""

    name = models.CharField(max_length=64, unique=True)
    sha256 = models.CharField(max_length=64)
    source = models.CharField(max_length=255, blank=True)
    entries_count = models.PositiveIntegerField(default=0)
    loaded_at = models.DateTimeField()

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.name} ({self.entries_count} entries)"


class ScreeningEntryKind(models.TextChoices):
    SANCTION = "sanction", "Sanctions"
    PEP = "pep", "Politically exposed person"


class ScreeningEntry(models.Model):
    screening_list = models.ForeignKey(ScreeningList, on_delete=models.CASCADE, related_name="entries")
    source_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=ScreeningEntryKind.choices, default=ScreeningEntryKind.SANCTION)
    name = models.CharField(max_length=255)
    normalized_name = models.CharField(max_length=255)
    date_of_birth = models.DateField(null=True, blank=True, db_index=True)
    country = models.CharField(max_length=2, blank=True)

    class Meta:
        verbose_name_plural = "screening entries"
        constraints = [models.UniqueConstraint(fields=["screening_list", "source_id"], name="aml_screening_entry_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.source_id})"


DEFAULT_SCREENING_THRESHOLD = Decimal("0.88")
