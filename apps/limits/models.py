"""Responsible-gaming state: per-player protection (time-out, self-exclusion, reality check), limits, exclusion history.

Every write goes through apps.limits.services, which first locks the player's PlayerProtection row:
that one row serializes limits, exclusions and the money checks of one player.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


class LimitKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    LOSS = "loss", "Loss (net of wins)"
    WAGER = "wager", "Wager (turnover)"


class LimitPeriod(models.TextChoices):
    DAY = "day", "Day (rolling 24 hours)"
    WEEK = "week", "Week (rolling 7 days)"
    MONTH = "month", "Month (rolling 30 days)"


# Rolling windows: a limit always covers the last N hours, so there is no reset moment at midnight
# or on the 1st at which a player could spend two periods' worth back to back.
PERIOD_LENGTH: dict[str, timedelta] = {
    LimitPeriod.DAY: timedelta(hours=24),
    LimitPeriod.WEEK: timedelta(days=7),
    LimitPeriod.MONTH: timedelta(days=30),
}


class ExclusionKind(models.TextChoices):
    TIMEOUT = "timeout", "Time-out"
    SELF_EXCLUSION = "self_exclusion", "Self-exclusion"


class ExclusionEnd(models.TextChoices):
    EXPIRED = "expired", "Period ended"
    EXTENDED = "extended", "Replaced by a longer one"


class PlayerProtection(models.Model):
    """One row per player: the lock every deposit, stake and limit change takes, and the exclusion state.

    `self_excluded_*` and `timeout_until` hold only the exclusion in force; the full record of
    requests lives in Exclusion. Nothing here is editable in the admin: no one can lift an exclusion.
    """

    player = models.OneToOneField("players.Player", on_delete=models.PROTECT, related_name="protection")
    timeout_until = models.DateTimeField(null=True, blank=True)
    self_excluded_from = models.DateTimeField(null=True, blank=True)
    self_excluded_until = models.DateTimeField(null=True, blank=True, help_text="Empty while permanent.")
    self_exclusion_permanent = models.BooleanField(default=False)
    reactivation_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="The player asked to return after the self-exclusion ended; a one-day cooling-off follows."
    )
    status_before_exclusion = models.CharField(
        max_length=16,
        blank=True,
        help_text="The player's status when the self-exclusion began (active or suspended); the return restores it.",
    )
    reality_check_minutes = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: reality checks off.")
    session_started_at = models.DateTimeField(null=True, blank=True)
    reality_check_acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Markets with a minimum time between slot spins (UKGC RTS 14): the last spin's time and game cycle,
    # written under this row's lock by the stake check (apps.limits.services.play), only in those markets.
    last_slot_spin_at = models.DateTimeField(null=True, blank=True)
    last_slot_spin_cycle = models.CharField(max_length=200, blank=True)
    # The stake cap is on the total staked in one game cycle (SI 2025/215): what that cycle has staked so far.
    last_slot_cycle_staked_minor = models.BigIntegerField(default=0)
    has_limits = models.BooleanField(
        default=False,
        help_text="Set, under this row's lock, when the player's first limit row is created; never cleared (rows are never deleted). "
        "Lets every deposit and stake of a player without limits skip reading them.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["last_slot_spin_at", "last_slot_spin_cycle", "last_slot_cycle_staked_minor"])

    class Meta:
        verbose_name = "player protection"
        verbose_name_plural = "player protection"
        constraints = [
            models.CheckConstraint(
                condition=Q(self_exclusion_permanent=False) | Q(self_excluded_until__isnull=True, self_excluded_from__isnull=False),
                name="limits_protection_permanent_has_no_end",
            ),
            models.CheckConstraint(
                condition=Q(self_excluded_until__isnull=True) | Q(self_excluded_from__isnull=False),
                name="limits_protection_exclusion_has_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Protection of player {self.player_id}"


class Limit(models.Model):
    """A deposit, loss or wager cap over a rolling period, with any change still cooling off.

    `amount_minor` empty means no limit in force (a removal took effect); the row stays so its
    history and the regulator's change-request times survive. Amounts are integer minor units.
    """

    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="rg_limits")
    kind = models.CharField(max_length=16, choices=LimitKind.choices)
    period = models.CharField(max_length=8, choices=LimitPeriod.choices)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    pending_amount_minor = models.BigIntegerField(null=True, blank=True, help_text="A raise waiting for its cooling-off.")
    pending_removal = models.BooleanField(default=False)
    pending_from = models.DateTimeField(null=True, blank=True, help_text="When the pending change takes effect.")
    # Markets that require positive action (UKGC RTS 12, `limit_raise_needs_confirmation`): the pending
    # change waits, after its cooling-off, for the player's confirmation, and lapses unconfirmed.
    confirmation_required = models.BooleanField(default=False, help_text="The pending change applies only once the player confirms it.")
    confirmation_lapses_at = models.DateTimeField(null=True, blank=True, help_text="An unconfirmed pending change lapses then.")
    requested_at = models.DateTimeField(help_text="When the last change was asked for.")
    activated_at = models.DateTimeField(null=True, blank=True, help_text="When the amount in force took effect.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "period"]
        permissions = [("tighten_limit", "Can make a player's limit stricter")]
        constraints = [
            models.UniqueConstraint(fields=["player", "kind", "period"], name="limits_limit_player_kind_period_unique"),
            models.CheckConstraint(condition=Q(amount_minor__isnull=True) | Q(amount_minor__gt=0), name="limits_limit_amount_positive"),
            models.CheckConstraint(
                condition=Q(pending_amount_minor__isnull=True) | Q(pending_amount_minor__gt=0), name="limits_limit_pending_positive"
            ),
            # At most one pending change, and it always has a date.
            models.CheckConstraint(
                condition=(
                    Q(pending_amount_minor__isnull=True, pending_removal=False, pending_from__isnull=True)
                    | Q(pending_amount_minor__isnull=False, pending_removal=False, pending_from__isnull=False)
                    | Q(pending_amount_minor__isnull=True, pending_removal=True, pending_from__isnull=False)
                ),
                name="limits_limit_one_pending_change",
            ),
            models.CheckConstraint(
                condition=Q(confirmation_required=False, confirmation_lapses_at__isnull=True)
                | Q(confirmation_required=True, confirmation_lapses_at__isnull=False, pending_from__isnull=False),
                name="limits_limit_confirmation_has_lapse",
            ),
            # Only a limit in force can have a raise or removal pending; a new limit applies at once.
            models.CheckConstraint(
                condition=Q(pending_from__isnull=True) | Q(amount_minor__isnull=False), name="limits_limit_pending_needs_amount"
            ),
        ]
        indexes = [
            models.Index(fields=["pending_from"], name="limits_limit_pending_from"),
            models.Index(fields=["confirmation_lapses_at"], name="limits_limit_lapses_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} / {self.get_period_display()} of player {self.player_id}"


class Exclusion(models.Model):
    """Each time-out or self-exclusion the player asked for: what the regulator's registry reports.

    A longer request replaces the one in force: the old row ends ("extended") and a new one starts,
    so every row keeps the length and request time the player actually chose.
    """

    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="rg_exclusions")
    kind = models.CharField(max_length=16, choices=ExclusionKind.choices)
    requested_at = models.DateTimeField()
    starts_at = models.DateTimeField(help_text="Activation time.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty while permanent.")
    permanent = models.BooleanField(default=False)
    length = models.PositiveIntegerField(null=True, blank=True)
    length_unit = models.CharField(max_length=8, blank=True, help_text="hours or months, as requested.")
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=ExclusionEnd.choices, blank=True)
    reactivation_requested_at = models.DateTimeField(null=True, blank=True)
    reactivated_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["player", "kind", "ended_at"], name="limits_excl_player_kind_ended")]
        constraints = [
            models.CheckConstraint(
                condition=Q(permanent=True, ends_at__isnull=True) | Q(permanent=False, ends_at__isnull=False),
                name="limits_exclusion_end_unless_permanent",
            ),
            models.CheckConstraint(condition=Q(kind="self_exclusion") | Q(permanent=False), name="limits_exclusion_only_self_permanent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of player {self.player_id} from {self.starts_at:%Y-%m-%d}"


class HarmMarker(models.TextChoices):
    """The markers of harm the beat task looks for (UKGC customer interaction guidance, SR 3.4.3; the issue's list)."""

    NET_LOSS_24H = "net_loss_24h", "Net loss in 24 hours at the market's threshold"
    NET_LOSS_30D = "net_loss_30d", "Net loss in 30 days at the market's threshold"
    DEPOSITS_RISING = "deposits_rising", "Deposits rising fast"


class InteractionStatus(models.TextChoices):
    OPEN = "open", "Open: nobody has contacted the player yet"
    CONTACTED = "contacted", "Contacted: waiting for the outcome"
    CLOSED = "closed", "Closed"


class InteractionRestriction(models.TextChoices):
    NONE = "none", "None"
    DEPOSIT_LIMIT = "deposit_limit", "A stricter deposit limit"
    SUSPENSION = "suspension", "Account suspended (safer gambling)"


class SafeGamblingInteraction(FSMModelMixin, models.Model):
    """A marker of harm found on a player, and the operator's recorded interaction with them.

    Opened by the beat task (apps.limits.tasks.detect_markers_of_harm), once per player, marker and window
    (`window`: the detection window's first day), so re-runs and overlapping runs open nothing twice. Worked
    by operators and compliance in the admin queue, oldest first: open → contacted (who, when, how, what was
    said) → closed (the outcome, and any restriction imposed), a note on every step, all in the history.
    """

    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="safer_gambling_interactions")
    marker = models.CharField(max_length=24, choices=HarmMarker.choices)
    window = models.DateField(help_text="First day of the window the marker was found in; one interaction per player, marker and window.")
    evidence = models.JSONField(default=dict, help_text="The figures at detection, frozen.")
    status = FSMField(default=InteractionStatus.OPEN, choices=InteractionStatus.choices, protected=True)
    contacted_by = models.ForeignKey("players.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    contacted_at = models.DateTimeField(null=True, blank=True)
    contact_channel = models.CharField(max_length=16, blank=True, help_text="email, phone, chat, in-app ...")
    outcome = models.TextField(blank=True)
    restriction = models.CharField(max_length=16, choices=InteractionRestriction.choices, blank=True)
    closed_by = models.ForeignKey("players.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    last_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["player", "marker", "window"], name="limits_interaction_once_per_window")]
        indexes = [models.Index(fields=["status", "created_at"], name="limits_interaction_queue")]
        permissions = [("work_interaction", "Can contact players and close safer-gambling interactions")]

    def __str__(self) -> str:
        return f"{self.get_marker_display()}: player {self.player_id} ({self.status})"

    @transition(field=status, source=InteractionStatus.OPEN, target=InteractionStatus.CONTACTED)
    def contact(self) -> None: ...

    @transition(field=status, source=InteractionStatus.CONTACTED, target=InteractionStatus.CLOSED)
    def close(self) -> None: ...
