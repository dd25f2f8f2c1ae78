"""Compliance edits each licence's rules here, with a reason kept in the history; operators read them.

Every save goes through apps.markets.services, which validates the whole market again (a cooling-off
under the legal 24 hours is refused) and records who changed what and why. Markets are created by the
data migration and never deleted: players carry their code.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from apps.core.admin import AuditedHistoryAdmin
from apps.core.panels import player_panel

from . import services
from .models import ExchangeRate, Market, NationalRegisterEntry
from .selectors import policy_for

REASON_HELP = "Required; kept with your name in the history."


class MarketForm(forms.ModelForm):
    change_reason = forms.CharField(max_length=255, label="Reason for this change", help_text=REASON_HELP)

    class Meta:
        model = Market
        fields = services.RULE_FIELDS

    def clean_change_reason(self) -> str:
        reason = self.cleaned_data["change_reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the rule changes.")
        return reason


@admin.register(Market)
class MarketAdmin(AuditedHistoryAdmin):
    form = MarketForm
    list_display = ("code", "name", "regulator", "countries", "is_default", "verification_before_play", "limit_cooling_off_hours")
    readonly_fields = ("code", "updated_at")
    fieldsets = (
        ("Licence", {"fields": ("code", "name", "regulator", "countries", "is_default", "time_zone", "updated_at")}),
        (
            "Verification and due diligence",
            {"fields": ("verification_before_play", "due_diligence_threshold_eur", "due_diligence_window_days")},
        ),
        (
            "Limits",
            {
                "fields": (
                    "limit_cooling_off_hours", "limit_raise_needs_confirmation", "confirmation_lapse_days",
                    "mandatory_deposit_limit_day_eur", "mandatory_deposit_limit_week_eur", "mandatory_deposit_limit_month_eur",
                )
            },
        ),
        ("Payments", {"fields": ("withdrawal_reversal_allowed",)}),
        (
            "Slots",
            {
                "fields": (
                    "rule_currency", "slot_max_stake", "slot_max_stake_young_adult", "young_adult_max_age",
                    "slot_min_spin_interval_ms", "slot_autoplay_allowed", "allowed_rtps",
                )
            },
        ),
        (
            "Markers of harm (safer-gambling interactions)",
            {"fields": ("harm_net_loss_24h", "harm_net_loss_30d", "harm_deposit_rise_factor", "harm_deposit_rise_min")},
        ),
        ("Self-exclusion register", {"fields": ("national_register",)}),
        ("Reporting", {"fields": ("reports", "report_time_zone", "report_operator_id", "report_store_id", "report_fiscal_region",
                                  "gaming_tax_rate")}),
        ("Why", {"fields": ("change_reason",)}),
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: Market, form, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in services.RULE_FIELDS}
        services.market_update(market=obj, actor=request.user, reason=form.cleaned_data["change_reason"], **changes)


class ExchangeRateForm(forms.ModelForm):
    change_reason = forms.CharField(max_length=255, label="Reason", help_text=REASON_HELP)

    class Meta:
        model = ExchangeRate
        fields = ("currency", "rate_to_eur", "valid_from", "source")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(AuditedHistoryAdmin):
    form = ExchangeRateForm
    list_display = ("currency", "rate_to_eur", "valid_from", "source")
    list_filter = ("currency",)
    ordering = ("currency", "-valid_from")

    def has_delete_permission(self, request, obj=None) -> bool:
        # A rate once used for a decision stays on record; correct it with a newer row.
        return False

    def get_readonly_fields(self, request, obj=None):
        return ("currency", "valid_from") if obj is not None else ()

    def save_model(self, request, obj: ExchangeRate, form, change: bool) -> None:
        saved = services.exchange_rate_set(
            currency=obj.currency, rate_to_eur=obj.rate_to_eur, valid_from=obj.valid_from,
            source=obj.source, actor=request.user, reason=form.cleaned_data["change_reason"],
        )
        obj.pk = saved.pk


@admin.register(NationalRegisterEntry)
class NationalRegisterEntryAdmin(AuditedHistoryAdmin):
    """The sandbox register: compliance adds people to try the registration refusal without GAMSTOP or RGIAJ."""

    list_display = ("register", "first_name", "last_name", "date_of_birth", "note", "created_at")
    list_filter = ("register",)
    search_fields = ("last_name", "first_name", "id_document_number")


@player_panel("Market", order=15)
def market_panel(player) -> list[tuple[str, object]]:
    policy = policy_for(player)
    return [
        ("Market", f"{policy.name} ({policy.code}), {policy.regulator}"),
        ("Verification before play", "required" if policy.verification_before_play else "no (due-diligence threshold)"),
        ("Limit raises", f"{policy.limit_cooling_off_hours} h cooling-off"
         + (", then the player confirms" if policy.limit_raise_needs_confirmation else "")),
        ("Withdrawal cancel", "allowed" if policy.withdrawal_reversal_allowed else "not allowed"),
    ]
