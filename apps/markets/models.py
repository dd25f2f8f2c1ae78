"""Each licence's player-protection rules as data an officer reads and changes (issue #11).

A `Market` is one licence (UKGC, DGOJ, the default one for other accepted countries). Services never
ask "is this player British?": they read the rule through `apps.markets.selectors.policy_for(player)`.
Every rule is a typed field with its validation here, so the admin and any other writer refuse an
illegal value (a cooling-off below the legal minimum) the same way.
"""

from __future__ import annotations

import re
import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

# UKGC RTS 12 and the DGOJ's RD 1614/2011 art. 36: a limit may be loosened only after at least 24 hours.
LEGAL_MINIMUM_COOLING_OFF_HOURS = 24
_ALPHA2 = re.compile(r"^[A-Z]{2}$")
_MONEY = {"max_digits": 14, "decimal_places": 2, "validators": [MinValueValidator(Decimal("0.01"))]}


def validate_countries(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(c, str) and _ALPHA2.match(c) for c in value):
        raise ValidationError("A list of upper-case ISO 3166-1 alpha-2 codes, e.g. [\"GB\"].")
    if len(set(value)) != len(value):
        raise ValidationError("A country is listed twice.")


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/London).") from None


def validate_rtp_list(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("A list of RTP percentages as decimal strings, e.g. [\"94.00\", \"96.00\"]; empty allows any.")
    for item in value:
        try:
            rtp = Decimal(str(item))
        except ArithmeticError:
            raise ValidationError(f"{item!r} is not a decimal percentage.") from None
        if not isinstance(item, str) or not rtp.is_finite() or not Decimal("50") <= rtp <= Decimal("100"):
            raise ValidationError(f"{item!r}: write each RTP as a string between 50 and 100.")


def validate_report_types(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValidationError("A list of report type codes, e.g. [\"dgoj_rud_daily\"].")


class Market(models.Model):
    """One licence and its rules. Changed only through the admin or services, with who and why in the history."""

    code = models.SlugField(max_length=16, unique=True, help_text="Stored on each player; never renamed.")
    name = models.CharField(max_length=100)
    regulator = models.CharField(max_length=100)
    countries = models.JSONField(
        default=list, blank=True, validators=[validate_countries],
        help_text="ISO 3166-1 alpha-2 codes this licence covers explicitly.",
    )
    is_default = models.BooleanField(
        default=False,
        help_text="Takes players from every country that no other market lists, except the BLOCKED_COUNTRIES setting.",
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    # --- Verification and due diligence ---
    verification_before_play = models.BooleanField(
        default=False, help_text="No deposit, round, provider bet or game launch before KYC is approved (UKGC LCCP 17.1).",
    )
    due_diligence_threshold_eur = models.DecimalField(
        **_MONEY, default=Decimal("2000.00"),
        help_text="Deposits + stakes + winnings (in EUR) above which KYC must be approved (EU AMLD 2015/849 art. 11(d)).",
    )
    due_diligence_window_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Linked transactions counted over this many days; empty counts the whole account life.",
    )

    # --- Limits ---
    limit_cooling_off_hours = models.PositiveIntegerField(
        default=LEGAL_MINIMUM_COOLING_OFF_HOURS,
        validators=[MinValueValidator(LEGAL_MINIMUM_COOLING_OFF_HOURS), MaxValueValidator(24 * 30)],
        help_text="Wait before a raised or removed limit applies (at least 24 h: UKGC RTS 12, RD 1614/2011 art. 36).",
    )
    limit_raise_needs_confirmation = models.BooleanField(
        default=False, help_text="After the cooling-off the player must confirm a raise (UKGC RTS 12).",
    )
    confirmation_lapse_days = models.PositiveIntegerField(
        default=7, validators=[MinValueValidator(1)], help_text="An unconfirmed raise lapses after this many days.",
    )
    mandatory_deposit_limit_day_eur = models.DecimalField(**_MONEY, null=True, blank=True)
    mandatory_deposit_limit_week_eur = models.DecimalField(**_MONEY, null=True, blank=True)
    mandatory_deposit_limit_month_eur = models.DecimalField(
        **_MONEY, null=True, blank=True,
        help_text="Deposit limits every new player has from registration unless they choose lower (DGOJ, RD 1614/2011 art. 36).",
    )

    # --- Payments ---
    withdrawal_reversal_allowed = models.BooleanField(
        default=True, help_text="May a player cancel a requested withdrawal? (UKGC: no reverse withdrawals.)",
    )

    # --- Slots (read by the games app) ---
    rule_currency = models.CharField(max_length=3, default="EUR", help_text="Currency of the slot stake caps below.")
    slot_max_stake = models.DecimalField(**_MONEY, null=True, blank=True, help_text="Highest stake per slot spin; empty: no cap.")
    slot_max_stake_young_adult = models.DecimalField(**_MONEY, null=True, blank=True)
    young_adult_max_age = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(18), MaxValueValidator(30)],
        help_text="Players up to this age (inclusive) get the young-adult cap.",
    )
    slot_min_spin_interval_ms = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(60_000)], help_text="Shortest time between two slot spins.",
    )
    slot_autoplay_allowed = models.BooleanField(default=True)
    allowed_rtps = models.JSONField(
        default=list, blank=True, validators=[validate_rtp_list],
        help_text="Certified RTP values a game may be set to in this market; empty allows any.",
    )

    # --- Markers of harm (apps.limits: the beat task that opens safer-gambling interactions) ---
    harm_net_loss_24h = models.DecimalField(
        **_MONEY, null=True, blank=True,
        help_text="Net loss (stakes − wins) in 24 hours, in rule_currency, that opens a safer-gambling interaction; empty: off.",
    )
    harm_net_loss_30d = models.DecimalField(
        **_MONEY, null=True, blank=True, help_text="The same over 30 days (UKGC customer interaction guidance).",
    )
    harm_deposit_rise_factor = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("1.01"))],
        help_text="Deposits of the last 7 days at least this many times the weekly average of the 28 days before; empty: off.",
    )
    harm_deposit_rise_min = models.DecimalField(
        **_MONEY, null=True, blank=True,
        help_text="...and at least this much (rule_currency), so small amounts never count as a rise.",
    )

    # --- National self-exclusion register (apps.markets.registers) ---
    national_register = models.CharField(
        max_length=16, blank=True, choices=[("", "None"), ("gamstop", "GAMSTOP (UK)"), ("rgiaj", "RGIAJ (Spain)")],
        help_text="Checked at registration; the client is chosen by the NATIONAL_REGISTER_CLIENTS setting (sandbox by default).",
    )

    # --- Reporting (apps.reports reads these through selectors.market_for_report) ---
    reports = models.JSONField(
        default=list, blank=True, validators=[validate_report_types],
        help_text="The report types this licence files, e.g. [\"dgoj_rud_daily\", \"dgoj_cjd_daily\"]; a type belongs to one market.",
    )
    report_time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="The regulator's calendar: report periods are local days and months here (Spain: Europe/Madrid).",
    )
    report_operator_id = models.CharField(
        max_length=4, blank=True, help_text="The operator id the regulator assigned (DGOJ OperadorId, at most 4 characters)."
    )
    report_store_id = models.CharField(
        max_length=10, blank=True, help_text="The data store id registered with the regulator (DGOJ AlmacenId, at most 10)."
    )
    report_fiscal_region = models.CharField(
        max_length=2, blank=True, validators=[RegexValidator(r"^(0[1-9]|1\d|2[0-2])$", "A code 01 to 22.")],
        help_text="DGOJ RegionFiscal (01-22) written on each RUD player.",
    )
    gaming_tax_rate = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="Share of GGR due as gaming tax, for the GGR report (Spain: 0.20, Ley 13/2011 art. 48); empty: none.",
    )

    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("code",)
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="markets_one_default")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        if (self.slot_max_stake_young_adult is None) != (self.young_adult_max_age is None):
            errors["young_adult_max_age"] = ["Set the young-adult cap and its age together, or neither."]
        capped = self.slot_max_stake is not None and self.slot_max_stake_young_adult is not None
        if capped and self.slot_max_stake_young_adult > self.slot_max_stake:
            errors["slot_max_stake_young_adult"] = ["The young-adult cap cannot be above the general cap."]
        mandatory = [self.mandatory_deposit_limit_day_eur, self.mandatory_deposit_limit_week_eur, self.mandatory_deposit_limit_month_eur]
        present = [v for v in mandatory if v is not None]
        if present != sorted(present):
            errors["mandatory_deposit_limit_week_eur"] = ["A longer period's limit cannot be below a shorter one's."]
        if (self.harm_deposit_rise_factor is None) != (self.harm_deposit_rise_min is None):
            errors["harm_deposit_rise_min"] = ["Set the deposit-rise factor and its minimum together, or neither."]
        if self.countries and isinstance(self.countries, list):
            # A country on two licences would make a new player's market a matter of chance. The table
            # is a handful of rows and JSON lists have no portable overlap lookup, so read it whole.
            others = {c for m in Market.objects.exclude(pk=self.pk) for c in m.countries}
            clash = sorted(others & set(self.countries))
            if clash:
                errors["countries"] = [f"Already on another market: {', '.join(clash)}."]
        if self.reports and isinstance(self.reports, list):
            # A report type's calendar and ids come from the one market that files it.
            listed = {r for m in Market.objects.exclude(pk=self.pk) for r in (m.reports or [])}
            clash = sorted(listed & set(self.reports))
            if clash:
                errors["reports"] = [f"Already filed by another market: {', '.join(clash)}."]
        if errors:
            raise ValidationError(errors)


class ExchangeRate(models.Model):
    """How many EUR one unit of a currency is worth from `valid_from` on (the EUR thresholds of the rules).

    Loaded by `manage.py load_exchange_rates FILE.csv` and editable in the admin; a new rate is a new row,
    so the rate used for an old decision stays on record.
    """

    currency = models.CharField(max_length=3)
    rate_to_eur = models.DecimalField(max_digits=18, decimal_places=8, validators=[MinValueValidator(Decimal("0.00000001"))])
    valid_from = models.DateTimeField()
    source = models.CharField(max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("currency", "-valid_from")
        constraints = [models.UniqueConstraint(fields=["currency", "valid_from"], name="markets_rate_once_per_instant")]
        indexes = [models.Index(fields=["currency", "-valid_from"])]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate_to_eur} EUR from {self.valid_from:%Y-%m-%d %H:%M}"


class NationalRegisterEntry(models.Model):
    """A person on a national self-exclusion register, as the sandbox client sees it (compliance edits it).

    Stands in for GAMSTOP and RGIAJ in development and tests; the real clients are seams, never called here.
    """

    register = models.CharField(max_length=16, choices=[("gamstop", "GAMSTOP (UK)"), ("rgiaj", "RGIAJ (Spain)")])
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    date_of_birth = models.DateField()
    id_document_number = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "national register entry (sandbox)"
        verbose_name_plural = "national register entries (sandbox)"

    def __str__(self) -> str:
        return f"{self.get_register_display()}: {self.first_name} {self.last_name}, {self.date_of_birth}"
