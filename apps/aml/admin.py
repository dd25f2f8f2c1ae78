"""Compliance's AML desk: the alert queue, the rules, the screening lists; and the risk level on every 360.

Alerts are read-only forms: every change is an action that calls a service, which checks the
permission again, locks the row and records the note in the history.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django_fsm import can_proceed

from apps.core import clock
from apps.core.admin import (
    AuditedHistoryAdmin,
    ReadOnlyHistoryAdmin,
    WorkQueueFilter,
    action_hidden_fields,
    confirm_action_page,
    log_service_action,
)
from apps.core.errors import DomainError
from apps.core.panels import PanelTable, TimelineEvent, player_panel, player_timeline
from apps.core.timefmt import readable_time
from apps.ledger import selectors as ledger_selectors

from . import selectors, services
from .models import ACTIVE_STATUSES, AmlAlert, AmlRule, ScreeningList


class AlertQueueFilter(WorkQueueFilter):
    open_states = ACTIVE_STATUSES
    open_label = "Open or being investigated"


class _NoteForm(forms.Form):
    note = forms.CharField(label="Note (kept in the alert's history)", widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class _EscalateForm(_NoteForm):
    sar_reference = forms.CharField(label="SAR reference", max_length=100)
    sar_filed_on = forms.DateField(label="SAR filed on (YYYY-MM-DD)", required=False)


def _officers():
    return get_user_model().objects.filter(is_active=True, is_staff=True, groups__name="compliance").order_by("email").distinct()


class _AssignForm(forms.Form):
    officer = forms.ModelChoiceField(queryset=_officers(), label="Officer")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["officer"].queryset = _officers()


@admin.register(AmlAlert)
class AmlAlertAdmin(ReadOnlyHistoryAdmin):
    list_display = ("id", "player_email", "level", "score", "rule", "status", "freezes_withdrawals", "assigned_to", "age")
    list_filter = (AlertQueueFilter, "level", "status", "category", "rule", "freezes_withdrawals")
    search_fields = ("=id", "player__user__email", "=sar_reference")
    list_select_related = ("player__user", "assigned_to")
    readonly_fields = (
        "player", "category", "rule", "score", "level", "status", "freezes_withdrawals", "first_hit_at", "last_hit_at",
        "assigned_to", "last_note",
        "sar_reference", "sar_filed_on", "resolved_by", "resolved_at", "created_at", "updated_at", "evidence_display", "recent_ledger",
    )
    fields = readonly_fields
    actions = ("assign", "investigate", "dismiss", "escalate", "freeze_withdrawals", "lift_freeze")

    def get_queryset(self, request):
        # Critical first, then the oldest: the queue is sorted by level and age.
        return super().get_queryset(request).annotate(level_rank=selectors.level_rank()).order_by("-level_rank", "created_at", "id")

    @admin.display(description="player", ordering="player__user__email")
    def player_email(self, obj: AmlAlert) -> str:
        """The email alone: the player's UUID (its __str__) wrapped the queue's rows over several lines at 1440 px."""
        return obj.player.user.email

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: AmlAlert) -> str:
        return timesince(obj.created_at, clock.now())

    @admin.display(description="evidence (frozen at detection)")
    def evidence_display(self, obj: AmlAlert) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.evidence, indent=2, sort_keys=True))

    @admin.display(description="player's recent cash ledger")
    def recent_ledger(self, obj: AmlAlert) -> str:
        account = ledger_selectors.player_cash_account(player=obj.player)
        if account is None:
            return "no cash account"
        rows = ledger_selectors.account_statement(account_id=account.pk, limit=30)
        body = format_html_join("", "<tr><td>{}</td><td>#{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                ((e.created_at, e.transaction_id, e.kind, e.amount, e.balance_after) for e in rows))
        return format_html("<table><tr><th>when</th><th>txn</th><th>kind</th><th>minor units</th><th>balance after</th></tr>{}</table>",
                           body)

    def has_work_permission(self, request) -> bool:
        return request.user.has_perm(services.WORK_PERMISSION)

    # --- The alert's page: the transitions its state allows, as buttons (each asks for its note) ---

    def get_urls(self):
        return [
            path("<path:object_id>/decide/<str:action>/", self.admin_site.admin_view(self.decide_view), name="aml_amlalert_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        alert = self.get_object(request, unquote(object_id))
        if alert is not None and self.has_work_permission(request):
            extra_context["alert_decisions"] = [
                {"name": name, "label": label, "url": reverse("admin:aml_amlalert_decide", args=[alert.pk, name])}
                for name, label in (("investigate", "Investigate"), ("dismiss", "Dismiss"), ("escalate", "Escalate"))
                if can_proceed(getattr(alert, name))
            ]
            if alert.status in ACTIVE_STATUSES and not alert.freezes_withdrawals:
                url = reverse("admin:aml_amlalert_decide", args=[alert.pk, "freeze"])
                extra_context["alert_decisions"].append({"name": "freeze", "label": "Freeze withdrawals", "url": url})
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id, action: str):
        """POST only; the permission is checked here and in the service, which also refuses what the state does not allow."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_work_permission(request) or action not in ("investigate", "dismiss", "escalate", "freeze"):
            raise PermissionDenied("Only compliance works AML alerts.")
        alert = self.get_object(request, unquote(object_id))
        if alert is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        form = (_EscalateForm if action == "escalate" else _NoteForm)(request.POST)
        back = HttpResponseRedirect(reverse("admin:aml_amlalert_change", args=[alert.pk]))
        if not form.is_valid():
            errors = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in form.errors.items())
            self.message_user(request, f"Alert #{alert.pk} unchanged: {errors}", messages.ERROR)
            return back
        data = form.cleaned_data
        try:
            if action == "freeze":
                services.alert_freeze_withdrawals(alert_id=alert.pk, actor=request.user, note=data["note"])
            else:
                services.alert_transition(
                    alert_id=alert.pk, actor=request.user, action=action, note=data["note"],
                    sar_reference=data.get("sar_reference", ""), sar_filed_on=data.get("sar_filed_on"),
                )
        except DomainError as exc:
            self.message_user(request, f"Alert #{alert.pk} unchanged: {exc.message}", messages.ERROR)
        else:
            self.log_change(request, alert, f"{action}: {data['note']}")
            self.message_user(request, f"Alert #{alert.pk}: {action} done.", messages.SUCCESS)
        return back

    def _run(self, request, queryset, call, verb: str) -> None:
        done = 0
        for alert in queryset.order_by("pk"):
            try:
                call(alert)
            except DomainError as exc:
                self.message_user(request, f"Alert #{alert.pk} was not {verb}: {exc.message}", messages.ERROR)
            else:
                done += 1
                log_service_action(self, request, alert, verb.capitalize())
        if done:
            self.message_user(request, f"{done} alert(s) {verb}.", messages.SUCCESS)

    def _with_form(self, request, queryset, *, form_class, action: str, title: str, verb: str, call):
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._run(request, queryset, lambda alert: call(alert, form.cleaned_data), verb)
            return None
        alerts = list(queryset)
        return confirm_action_page(
            self, request, title=title, form=form, submit_label=title, submit_name="apply",
            items=[f"#{a.pk} — {a.player} — {a.level} ({a.get_status_display()})" for a in alerts],
            hidden=action_hidden_fields(action, alerts),
        )

    @admin.action(description="Assign to an officer", permissions=["work"])
    def assign(self, request, queryset):
        return self._with_form(
            request, queryset, form_class=_AssignForm, action="assign", title="Assign alerts", verb="assigned",
            call=lambda a, d: services.alert_assign(alert_id=a.pk, actor=request.user, officer=d["officer"]),
        )

    @admin.action(description="Start investigating", permissions=["work"])
    def investigate(self, request, queryset):
        return self._with_form(
            request, queryset, form_class=_NoteForm, action="investigate", title="Investigate alerts", verb="taken into investigation",
            call=lambda a, d: services.alert_transition(alert_id=a.pk, actor=request.user, action="investigate", note=d["note"]),
        )

    @admin.action(description="Dismiss (no suspicion)", permissions=["work"])
    def dismiss(self, request, queryset):
        return self._with_form(
            request, queryset, form_class=_NoteForm, action="dismiss", title="Dismiss alerts", verb="dismissed",
            call=lambda a, d: services.alert_transition(alert_id=a.pk, actor=request.user, action="dismiss", note=d["note"]),
        )

    @admin.action(description="Escalate (SAR filed)", permissions=["work"])
    def escalate(self, request, queryset):
        return self._with_form(
            request, queryset, form_class=_EscalateForm, action="escalate", title="Escalate alerts", verb="escalated",
            call=lambda a, d: services.alert_transition(
                alert_id=a.pk, actor=request.user, action="escalate", note=d["note"], sar_reference=d["sar_reference"],
                sar_filed_on=d.get("sar_filed_on"),
            ),
        )

    @admin.action(description="Freeze the player's withdrawals", permissions=["work"])
    def freeze_withdrawals(self, request, queryset):
        return self._with_form(
            request, queryset, form_class=_NoteForm, action="freeze_withdrawals", title="Freeze withdrawals", verb="frozen",
            call=lambda a, d: services.alert_freeze_withdrawals(alert_id=a.pk, actor=request.user, note=d["note"]),
        )

    @admin.action(description="Lift the withdrawal freeze (with a note)", permissions=["work"])
    def lift_freeze(self, request, queryset):
        return self._with_form(
            request, queryset, form_class=_NoteForm, action="lift_freeze", title="Lift withdrawal freeze", verb="released",
            call=lambda a, d: services.alert_lift_freeze(alert_id=a.pk, actor=request.user, note=d["note"]),
        )


@admin.register(AmlRule)
class AmlRuleAdmin(AuditedHistoryAdmin):
    """Rules are tuned, never added or deleted: the kinds are code (migration 0002 ships one row per kind)."""

    list_display = ("kind", "enabled", "score", "count", "window_minutes", "lookback_days", "amount_eur", "ratio")
    readonly_fields = ("kind", "updated_at")
    fields = ("kind", "enabled", "score", "count", "window_minutes", "lookback_days", "amount_eur", "ratio", "description", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        obj._history_user = request.user
        obj._change_reason = "tuned in the admin"
        super().save_model(request, obj, form, change)


@admin.register(ScreeningList)
class ScreeningListAdmin(ReadOnlyHistoryAdmin):
    list_display = ("name", "entries_count", "loaded_at", "sha256")


@player_panel("AML", order=60)
def _aml_panel(player):
    """The risk level only: operators and support see it; the reasons stay with compliance (tipping-off, EU AMLD art. 39)."""
    hold = selectors.withdrawal_hold_reason(player)
    return [
        ("Risk level", selectors.player_risk_level(player=player)),
        ("Withdrawals", "frozen (under review)" if hold else "not held"),
    ]


@player_panel("AML alerts", order=10, tab="aml", permission="aml.view_amlalert")
def _aml_alerts_panel(player, request=None) -> PanelTable | None:
    """The player's alerts with their reasons: compliance only (the tab is hidden from others, and so is this)."""
    if request is None:
        return None  # no viewer known: show nothing rather than reasons to someone who may not see them
    alerts = AmlAlert.objects.filter(player=player).select_related("assigned_to").order_by("-created_at", "-pk")[:50]
    return PanelTable(
        headers=["alert", "raised", "level", "score", "rule", "status", "assigned to", "last note"],
        rows=[
            [format_html('<a href="{}">#{}</a>', reverse("admin:aml_amlalert_change", args=[a.pk]), a.pk), readable_time(a.created_at),
             a.level, a.score, a.rule, a.get_status_display(), a.assigned_to.email if a.assigned_to else "—", a.last_note]
            for a in alerts
        ],
        empty="No AML alerts.",
    )


@player_timeline("aml")
def _aml_timeline(player, *, limit: int, request=None) -> list[TimelineEvent]:
    """Alerts raised and resolved, for compliance only: others must not learn of them (EU AMLD art. 39, tipping-off)."""
    if request is None or not request.user.has_perm("aml.view_amlalert"):
        return []
    events = []
    for a in AmlAlert.objects.filter(player=player).select_related("resolved_by").order_by("-created_at", "-pk")[:limit]:
        url = reverse("admin:aml_amlalert_change", args=[a.pk])
        events.append(TimelineEvent(at=a.created_at, what=f"AML alert #{a.pk} raised ({a.level})", detail=a.rule, source="aml", link=url))
        if a.resolved_at:
            events.append(TimelineEvent(at=a.resolved_at, what=f"AML alert #{a.pk} {a.get_status_display().lower()}",
                                        detail=a.last_note, who=a.resolved_by.email if a.resolved_by else "", source="aml", link=url))
    return events
