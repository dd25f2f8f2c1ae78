"""Operator UI for responsible gaming: everything read-only, plus "make a limit stricter".

No admin path can lift an exclusion or loosen a limit: no add, change or delete permission for anyone
(superusers included), history "revert" refused, and the one write is limit_tighten_by_operator.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import TabularInline

from apps.core.admin import (
    MoneyFormField,
    NoEditPermissions,
    ReadOnlyHistoryAdmin,
    WorkQueueFilter,
    action_hidden_fields,
    confirm_action_page,
    log_service_action,
    shell_adminform,
)
from apps.core.errors import DomainError
from apps.core.money import format_amount
from apps.core.panels import PanelTable, TimelineEvent, player_panel, player_timeline
from apps.core.timefmt import readable_time
from apps.players.models import Player

from .models import (
    Exclusion,
    InteractionRestriction,
    InteractionStatus,
    Limit,
    LimitKind,
    LimitPeriod,
    PlayerProtection,
    SafeGamblingInteraction,
)
from .selectors import player_exclusions, protection_overview
from .services import interaction_close, interaction_contact, limit_tighten_by_operator
from .services.interactions import WORK_PERMISSION

TIGHTEN_PERMISSION = "limits.tighten_limit"


def tighten_url(player_id: int, *, kind: str = "", period: str = "") -> str:
    url = reverse("admin:limits_tighten_limit", args=[player_id])
    return f"{url}?kind={kind}&period={period}" if kind else url


def _pending_text(limit: Limit) -> str:
    confirm = " once the player confirms it" if limit.confirmation_required else ""
    if limit.pending_removal:
        return f"removal from {limit.pending_from:%Y-%m-%d %H:%M} UTC{confirm}"
    if limit.pending_amount_minor is not None:
        amount = f"{format_amount(limit.pending_amount_minor, limit.currency)} {limit.currency}"
        return f"{amount} from {limit.pending_from:%Y-%m-%d %H:%M} UTC{confirm}"
    return "—"


def _amount_text(limit: Limit) -> str:
    return f"{format_amount(limit.amount_minor, limit.currency)} {limit.currency}" if limit.amount_minor is not None else "none"


def _limit_rows(player_id: int) -> list[tuple[str, str, str, str]]:
    return [
        (limit.get_kind_display(), limit.get_period_display(), _amount_text(limit), _pending_text(limit))
        for limit in Limit.objects.filter(player_id=player_id).order_by("kind", "period")
    ]


class TightenLimitForm(forms.Form):
    kind = forms.ChoiceField(choices=LimitKind.choices)
    period = forms.ChoiceField(choices=LimitPeriod.choices)
    amount = MoneyFormField(help_text="Decimal string in the player's currency, e.g. 50.00. Must be lower than the limit in force.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded in the limit's history.")

    def __init__(self, *args, currency: str, **kwargs):
        self.currency = currency
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = currency


@admin.register(PlayerProtection)
class PlayerProtectionAdmin(ReadOnlyHistoryAdmin):
    list_display = ("player", "timeout_until", "self_excluded_until", "self_exclusion_permanent", "reality_check_minutes", "updated_at")
    list_filter = ("self_exclusion_permanent",)
    search_fields = ("player__user__email", "=player__public_id")
    list_select_related = ("player__user",)
    fields = (
        "player",
        "timeout_until",
        "self_excluded_from",
        "self_excluded_until",
        "self_exclusion_permanent",
        "reactivation_requested_at",
        "reality_check_minutes",
        "session_started_at",
        "limits_in_force",
        "exclusion_record",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="Limits")
    def limits_in_force(self, obj: PlayerProtection) -> str:
        rows = _limit_rows(obj.player_id)
        table = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows) if rows else "No limits."
        link = format_html('<p><a class="button" href="{}">Make a limit stricter…</a></p>', tighten_url(obj.player_id))
        return format_html("<table><tr><th>Kind</th><th>Period</th><th>Amount</th><th>Pending</th></tr>{}</table>{}", table, link)

    @admin.display(description="Exclusions")
    def exclusion_record(self, obj: PlayerProtection) -> str:
        rows = [
            (
                e.get_kind_display(),
                f"{e.starts_at:%Y-%m-%d %H:%M}",
                "permanent" if e.permanent else f"{e.ends_at:%Y-%m-%d %H:%M}",
                e.get_end_reason_display() or "in force",
            )
            for e in player_exclusions(player=obj.player)
        ]
        if not rows:
            return "None."
        return format_html(
            "<table><tr><th>Kind</th><th>From</th><th>Until</th><th>State</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    def get_urls(self):
        extra = [
            path(
                "tighten/<int:player_id>/",
                self.admin_site.admin_view(self.tighten_limit_view),
                name="limits_tighten_limit",
            )
        ]
        return extra + super().get_urls()

    def tighten_limit_view(self, request, player_id: int):
        """The one write staff have here: a stricter limit, with a reason, through the service."""
        if not request.user.has_perm(TIGHTEN_PERMISSION):
            raise PermissionDenied
        player = get_object_or_404(Player.objects.select_related("user"), pk=player_id)
        initial = {"kind": request.GET.get("kind", ""), "period": request.GET.get("period", "")}
        form = TightenLimitForm(request.POST or None, currency=player.currency, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                limit = limit_tighten_by_operator(
                    player=player,
                    kind=data["kind"],
                    period=data["period"],
                    amount=data["amount"],
                    actor=request.user,
                    reason=data["reason"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                for field, problems in exc.details.items():
                    for problem in problems if isinstance(problems, list) else [problems]:
                        form.add_error(field if field in form.fields else None, str(problem))
            else:
                log_service_action(self, request, limit, f"Made stricter: {limit}")
                self.message_user(request, "The stricter limit applies at once.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:limits_limit_changelist") + f"?player__id__exact={player.pk}")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Make a limit stricter for {player}",
            "form": form,
            "adminform": shell_adminform(self, form),
            "player": player,
            "limit_table": {"headers": ["Kind", "Period", "In force", "Pending"], "rows": _limit_rows(player.pk)},
            "opts": Limit._meta,
        }
        return TemplateResponse(request, "admin/limits/tighten_limit.html", context)


@admin.register(Limit)
class LimitAdmin(ReadOnlyHistoryAdmin):
    list_display = ("player", "kind", "period", "amount", "pending", "requested_at", "activated_at", "make_stricter")
    list_filter = ("kind", "period", "pending_removal")
    search_fields = ("player__user__email", "=player__public_id")
    list_select_related = ("player__user",)
    readonly_fields = (
        "player",
        "kind",
        "period",
        "amount_minor",
        "currency",
        "pending_amount_minor",
        "pending_removal",
        "pending_from",
        "requested_at",
        "activated_at",
    )
    actions = ["make_stricter_action"]

    @admin.display(description="Amount")
    def amount(self, obj: Limit) -> str:
        return _amount_text(obj)

    @admin.display(description="Pending")
    def pending(self, obj: Limit) -> str:
        return _pending_text(obj)

    @admin.display(description="")
    def make_stricter(self, obj: Limit) -> str:
        return format_html('<a href="{}">Make stricter…</a>', tighten_url(obj.player_id, kind=obj.kind, period=obj.period))

    @admin.action(description="Make the selected limit stricter…", permissions=["tighten"])
    def make_stricter_action(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one limit.", messages.WARNING)
            return None
        limit = queryset.get()
        return HttpResponseRedirect(tighten_url(limit.player_id, kind=limit.kind, period=limit.period))

    def has_tighten_permission(self, request) -> bool:
        return request.user.has_perm(TIGHTEN_PERMISSION)


@admin.register(Exclusion)
class ExclusionAdmin(ReadOnlyHistoryAdmin):
    list_display = ("player", "kind", "starts_at", "ends_at", "permanent", "ended_at", "end_reason", "reactivated_at")
    list_filter = ("kind", "permanent", "end_reason")
    search_fields = ("player__user__email", "=player__public_id")
    list_select_related = ("player__user",)
    readonly_fields = (
        "player",
        "kind",
        "requested_at",
        "starts_at",
        "ends_at",
        "permanent",
        "length",
        "length_unit",
        "ended_at",
        "end_reason",
        "reactivation_requested_at",
        "reactivated_at",
    )


class InteractionQueueFilter(WorkQueueFilter):
    open_states = (InteractionStatus.OPEN, InteractionStatus.CONTACTED)
    open_label = "Open or contacted"


class _ContactForm(forms.Form):
    channel = forms.ChoiceField(choices=[(c, c) for c in ("phone", "email", "chat", "in-app")])
    note = forms.CharField(label="What was said (kept in the history)", widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class _CloseForm(forms.Form):
    outcome = forms.CharField(label="Outcome (kept in the history)", widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    restriction = forms.ChoiceField(choices=InteractionRestriction.choices, initial=InteractionRestriction.NONE)
    deposit_limit = forms.DecimalField(label="Daily deposit limit to impose (wallet currency)", required=False, min_value=0)


@admin.register(SafeGamblingInteraction)
class SafeGamblingInteractionAdmin(ReadOnlyHistoryAdmin):
    """The safer-gambling queue: oldest first, open and contacted ones by default; every step is an action with a note."""

    list_display = ("id", "created_at", "player", "marker", "status", "contacted_by", "contacted_at", "restriction")
    list_filter = (InteractionQueueFilter, "status", "marker", "player__market")
    search_fields = ("player__user__email", "=player__public_id")
    list_select_related = ("player__user", "contacted_by")
    ordering = ("created_at", "id")
    readonly_fields = ("player", "marker", "window", "evidence_table", "status", "contacted_by", "contacted_at", "contact_channel",
                       "outcome", "restriction", "closed_by", "closed_at", "last_note", "created_at")
    exclude = ("evidence",)
    actions = ("record_contact", "close_interactions")

    @admin.display(description="evidence at detection")
    def evidence_table(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.evidence, indent=2, sort_keys=True))

    def has_work_permission(self, request) -> bool:
        return request.user.has_perm(WORK_PERMISSION)

    def _with_form(self, request, queryset, *, form_class, action: str, title: str, verb: str, call):
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for interaction in queryset.order_by("pk"):
                try:
                    call(interaction, form.cleaned_data)
                except DomainError as exc:
                    self.message_user(request, f"Interaction #{interaction.pk} was not {verb}: {exc.message}", messages.ERROR)
                else:
                    done += 1
            if done:
                self.message_user(request, f"{done} interaction(s) {verb}.", messages.SUCCESS)
            return None
        rows = list(queryset.select_related("player__user"))
        return confirm_action_page(
            self, request, title=title, form=form, submit_label=title, submit_name="apply",
            items=[f"#{i.pk} — {i.player} — {i.get_marker_display()} ({i.get_status_display()})" for i in rows],
            hidden=action_hidden_fields(action, rows),
        )

    @admin.action(description="Record the contact with the player", permissions=["work"])
    def record_contact(self, request, queryset):
        return self._with_form(
            request, queryset, form_class=_ContactForm, action="record_contact", title="Record contact", verb="marked contacted",
            call=lambda i, d: interaction_contact(interaction_id=i.pk, actor=request.user, channel=d["channel"], note=d["note"]),
        )

    @admin.action(description="Close with the outcome (and a restriction)", permissions=["work"])
    def close_interactions(self, request, queryset):
        def close(interaction, data):
            from decimal import Decimal

            from apps.core.money import Money

            amount = data.get("deposit_limit")
            limit = Money(Decimal(amount), interaction.player.currency) if amount else None
            return interaction_close(interaction_id=interaction.pk, actor=request.user, outcome=data["outcome"],
                                     restriction=data["restriction"], deposit_limit=limit)

        return self._with_form(
            request, queryset, form_class=_CloseForm, action="close_interactions", title="Close interactions", verb="closed", call=close,
        )


class LimitInline(NoEditPermissions, TabularInline):
    """For the players app's Player admin (Limit has a player FK): read-only limits on the 360° view."""

    model = Limit
    extra = 0
    can_delete = False
    fields = readonly_fields = ("kind", "period", "amount_minor", "currency", "pending_amount_minor", "pending_removal", "pending_from")


class ExclusionInline(NoEditPermissions, TabularInline):
    """For the players app's Player admin: the exclusion record, read-only."""

    model = Exclusion
    extra = 0
    can_delete = False
    fields = readonly_fields = ("kind", "requested_at", "starts_at", "ends_at", "permanent", "ended_at", "end_reason", "reactivated_at")


@player_panel("Responsible gaming", order=30)
def _protection_panel(player):
    """What an operator must see before talking to a player: limits, breaks, exclusions."""
    overview = protection_overview(player=player)
    rows: list[tuple[str, object]] = []
    for view in overview.limits:
        pending = ""
        if view.pending_removal:
            pending = f" (removal pending from {view.pending_from:%Y-%m-%d %H:%M})"
        elif view.pending_amount is not None:
            pending = f" (raise to {view.pending_amount} pending from {view.pending_from:%Y-%m-%d %H:%M})"
        rows.append(
            (f"{view.kind.title()} limit ({view.period})", f"{view.amount} {view.currency}, used {view.used}{pending}")
        )
    if not overview.limits:
        rows.append(("Limits", "none set"))
    rows.append(("Time-out until", overview.timeout_until or "—"))
    if overview.permanent_exclusion:
        rows.append(("Self-excluded", "permanently"))
    else:
        rows.append(("Self-excluded until", overview.self_excluded_until or "—"))
    rows.append(("Reality check", f"every {overview.reality_check_minutes} min" if overview.reality_check_minutes else "off"))
    return rows


def _limit_amount(minor, currency: str) -> str:
    return "none" if minor is None else f"{format_amount(minor, currency)} {currency}"


@player_panel("Limits", order=10, tab="limits")
def _limits_panel(player) -> PanelTable:
    limits = Limit.objects.filter(player=player).order_by("kind", "period")
    return PanelTable(
        headers=["limit", "in force", "since", "pending change", "applies from", "player confirmation"],
        rows=[
            [f"{limit.get_kind_display()} ({limit.get_period_display()})", _limit_amount(limit.amount_minor, limit.currency),
             readable_time(limit.activated_at, relative=False),
             "removal" if limit.pending_removal else (_limit_amount(limit.pending_amount_minor, limit.currency)
                                                     if limit.pending_amount_minor is not None else "—"),
             readable_time(limit.pending_from) if limit.pending_from else "—",
             "required" if limit.confirmation_required else "—"]
            for limit in limits
        ],
        empty="No limits set.",
    )


@player_panel("Time-outs and self-exclusions", order=20, tab="limits")
def _exclusions_panel(player) -> PanelTable:
    exclusions = Exclusion.objects.filter(player=player).order_by("-starts_at", "-pk")[:50]
    return PanelTable(
        headers=["kind", "requested", "from", "until", "ended", "why it ended"],
        rows=[
            [e.get_kind_display(), readable_time(e.requested_at, relative=False), readable_time(e.starts_at, relative=False),
             "permanent" if e.permanent else readable_time(e.ends_at), readable_time(e.ended_at, relative=False) if e.ended_at else "—",
             e.get_end_reason_display() or "—"]
            for e in exclusions
        ],
        empty="Never excluded.",
    )


@player_timeline("limits")
def _limits_timeline(player, *, limit: int) -> list[TimelineEvent]:
    """Limit changes (set, lowered, raise requested, applied) and exclusions, from their history."""
    events = []
    rows = Limit.history.filter(player_id=player.pk).select_related("history_user").order_by("-history_date", "-history_id")[:limit]
    for row in rows:
        amount = _limit_amount(row.amount_minor, row.currency)
        pending = ""
        if row.pending_removal:
            pending = ", removal pending"
        elif row.pending_amount_minor is not None:
            pending = f", raise to {_limit_amount(row.pending_amount_minor, row.currency)} pending"
        events.append(TimelineEvent(
            at=row.history_date, what=f"{LimitKind(row.kind).label} limit ({row.period}): {amount}{pending}",
            detail=row.history_change_reason or "", who=row.history_user.email if row.history_user else "", source="limits",
        ))
    for e in Exclusion.objects.filter(player=player).order_by("-starts_at", "-pk")[:limit]:
        until = "permanently" if e.permanent else f"until {readable_time(e.ends_at, relative=False)}"
        events.append(TimelineEvent(at=e.requested_at, what=f"{e.get_kind_display()} {until}", source="limits"))
        if e.ended_at:
            events.append(TimelineEvent(at=e.ended_at, what=f"{e.get_kind_display()} ended", detail=e.get_end_reason_display(),
                                        source="limits"))
    return events
