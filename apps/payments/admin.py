"""Operators' view of deposits and the withdrawal queue.

Nothing here edits a status or an amount: the pages are read-only and every change is an
action that calls a service, which checks the permission again, locks the row and posts
to the ledger.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince

from apps.core import clock
from apps.core.admin import ReadOnlyHistoryAdmin, WorkQueueFilter, action_hidden_fields, apply_to_each, confirm_action_page
from apps.core.errors import DomainError
from apps.core.exports import CsvExportAdminMixin
from apps.core.models import ExportKind
from apps.core.money import format_amount
from apps.core.panels import PanelTable, TimelineEvent, player_panel, player_timeline, render_player_overview
from apps.core.timefmt import readable_time

from . import services
from .models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from .selectors import player_payments_summary

# What the officer deciding a withdrawal needs to see of the player, from every app's 360 panels.
WITHDRAWAL_CONTEXT_PANELS = ("Wallet", "Payments", "KYC", "AML", "Tags")
EXPORT_PERMISSION = "core.export_payments"

_MONEY_READONLY = ("player", "amount_display", "currency")


class _ReadOnlyAdmin(ReadOnlyHistoryAdmin):
    """View and history only: money rows change through services, never through a form."""

    @admin.display(description="amount", ordering="amount_minor")
    def amount_display(self, obj) -> str:
        return f"{obj.amount} {obj.currency}"


@admin.register(Deposit)
class DepositAdmin(CsvExportAdminMixin, _ReadOnlyAdmin):
    export_kind = ExportKind.DEPOSITS
    export_permission = EXPORT_PERMISSION
    export_header = (
        "id", "created_at", "completed_at", "player_id", "email", "currency", "amount", "method", "status", "psp_reference",
        "failure_reason",
    )

    def export_rows(self, deposits):
        for d in deposits:
            yield [d.pk, d.created_at, d.completed_at, d.player.public_id, d.player.user.email, d.currency,
                   format_amount(d.amount_minor, d.currency), d.method, d.status, d.psp_reference, d.failure_reason]

    list_display = ("id", "player", "amount_display", "method", "status", "psp_reference", "created_at", "completed_at")
    list_filter = ("status", "method", "currency")
    search_fields = ("=id", "player__user__email", "=psp_reference")
    list_select_related = ("player__user",)
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    readonly_fields = (
        *_MONEY_READONLY, "method", "status", "psp_reference", "idempotency_key", "ledger_transaction", "failure_reason",
        "ip_address", "created_at", "completed_at", "updated_at",
    )
    fields = readonly_fields


class _ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason (the player may be told it)", widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


class _PayoutForm(forms.Form):
    psp_reference = forms.CharField(label="PSP payout reference", required=False, max_length=100)


class WithdrawalQueueFilter(WorkQueueFilter):
    open_states = (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED)
    open_label = "Open (requested or approved)"


class DecisionForm(forms.Form):
    reason = forms.CharField(required=False, max_length=1000)
    next = forms.CharField(required=False, max_length=500)


@admin.register(Withdrawal)
class WithdrawalAdmin(CsvExportAdminMixin, _ReadOnlyAdmin):
    """The withdrawal queue, oldest first. The withdrawal's own page shows the player's context (balance, KYC,
    lifetime deposits and withdrawals, risk level and tags) next to the Approve and Reject buttons."""

    export_kind = ExportKind.WITHDRAWALS
    export_permission = EXPORT_PERMISSION
    export_header = (
        "id", "created_at", "player_id", "email", "currency", "amount", "status", "reviewed_by", "reviewed_at", "rejection_reason",
        "paid_at", "psp_reference",
    )

    def export_rows(self, withdrawals):
        for w in withdrawals:
            yield [w.pk, w.created_at, w.player.public_id, w.player.user.email, w.currency, format_amount(w.amount_minor, w.currency),
                   w.status, w.reviewed_by.email if w.reviewed_by else "", w.reviewed_at, w.rejection_reason, w.paid_at, w.psp_reference]

    def get_urls(self):
        return [
            path(
                "<path:object_id>/decide/<str:decision>/", self.admin_site.admin_view(self.decide_view),
                name="payments_withdrawal_decide",
            ),
            path("return-funds/<int:player_id>/", self.admin_site.admin_view(self.return_funds_view), name="payments_return_funds"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        withdrawal = self.get_object(request, unquote(object_id))
        if withdrawal is not None:
            player = withdrawal.player
            extra_context["player_context"] = render_player_overview(player, titles=WITHDRAWAL_CONTEXT_PANELS)
            extra_context["player_url"] = reverse("admin:players_player_change", args=[player.pk])
            extra_context["player_label"] = f"{player.user.get_full_name()} — {player.user.email}"
            extra_context["waiting"] = timesince(withdrawal.created_at, clock.now())
            if self.has_review_permission(request):
                extra_context["decisions"] = _decisions(withdrawal)
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id, decision: str):
        """POST only. The permission is checked here and again in the service, which also checks the state."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_review_permission(request):
            raise PermissionDenied("Your role may not decide withdrawals.")
        if decision not in ("approve", "reject"):
            raise PermissionDenied("Unknown decision.")
        withdrawal = self.get_object(request, unquote(object_id))
        if withdrawal is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        form = DecisionForm(request.POST)
        form.is_valid()
        data = form.cleaned_data
        back = data.get("next") or ""
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            back = ""
        back = back or reverse("admin:payments_withdrawal_change", args=[withdrawal.pk])
        try:
            if decision == "approve":
                services.withdrawal_approve(withdrawal=withdrawal, actor=request.user, note=data.get("reason", ""))
            else:
                services.withdrawal_reject(withdrawal=withdrawal, actor=request.user, reason=data.get("reason", ""))
        except DomainError as exc:
            detail = "; ".join(f"{key}: {value}" for key, value in exc.details.items()) if exc.details else ""
            self.message_user(request, f"Withdrawal #{withdrawal.pk} was not {decision}d: {exc.message} {detail}".strip(), messages.ERROR)
        else:
            self.log_change(request, withdrawal, f"{decision.capitalize()}d: {data.get('reason', '')}".strip(": "))
            self.message_user(request, f"Withdrawal #{withdrawal.pk} {decision}d.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    list_display = ("id", "player_email", "amount_display", "status", "age", "reviewed_by", "paid_at")
    list_filter = (WithdrawalQueueFilter, "status", "currency")
    search_fields = ("=id", "player__user__email", "=psp_reference")
    list_select_related = ("player__user", "reviewed_by")
    # First in, first out: the oldest request has waited longest.
    ordering = ("created_at", "id")
    readonly_fields = (
        *_MONEY_READONLY, "status", "idempotency_key", "hold_transaction", "settlement_transaction", "reviewed_by",
        "reviewed_at", "review_note", "rejection_reason", "paid_by", "paid_at", "psp_reference", "cancelled_at",
        "return_reason", "payout_method", "ip_address", "created_at", "updated_at",
    )
    fields = readonly_fields
    actions = ("approve_withdrawals", "reject_withdrawals", "mark_withdrawals_paid")

    def return_funds_view(self, request, player_id: int):
        """An excluded player's funds back to where they came from (services.withdrawal_return_funds), with a reason."""
        from django.contrib import messages
        from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
        from django.http import HttpResponseRedirect
        from django.shortcuts import get_object_or_404

        from apps.core.errors import DomainError
        from apps.players.models import Player

        if not request.user.has_perm(services.REVIEW_PERMISSION):
            raise DjangoPermissionDenied
        player = get_object_or_404(Player.objects.select_related("user"), pk=player_id)
        form = _ReturnFundsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                withdrawal = services.withdrawal_return_funds(player=player, actor=request.user, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Withdrawal #{withdrawal.pk} of {withdrawal.amount} created; approve and pay it as usual.",
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:payments_withdrawal_change", args=[withdrawal.pk]))
        return confirm_action_page(
            self, request, title=f"Return funds to {player.user.email}", form=form, submit_label="Return the funds",
            intro="The player's net deposits (at most their cash) go back to the method of their latest deposit, without KYC. "
                  "Only for a self-excluded or legally barred player.",
            cancel_url=reverse("admin:players_player_change", args=[player.pk]),
        )

    @admin.display(description="player", ordering="player__user__email")
    def player_email(self, obj: Withdrawal) -> str:
        return obj.player.user.email

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Withdrawal) -> str:
        return timesince(obj.created_at, clock.now())

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm(services.REVIEW_PERMISSION)

    def _run(self, request, queryset, call: Callable[[Withdrawal], object], verb: str) -> None:
        apply_to_each(self, request, queryset.order_by("created_at", "pk"), call, verb=verb, label=lambda w: f"withdrawal #{w.pk}")

    def _intermediate(self, request, queryset, *, form, action: str, title: str, intro: str, submit_label: str) -> TemplateResponse:
        withdrawals = list(queryset)
        return confirm_action_page(
            self,
            request,
            title=title,
            intro=intro,
            items=[f"#{w.pk} — {w.player} — {w.amount} {w.currency} ({w.get_status_display()})" for w in withdrawals],
            form=form,
            hidden=action_hidden_fields(action, withdrawals),
            submit_label=submit_label,
            submit_name="apply",
        )

    @admin.action(description="Approve selected withdrawals", permissions=["review"])
    def approve_withdrawals(self, request, queryset):
        self._run(request, queryset, lambda w: services.withdrawal_approve(withdrawal=w, actor=request.user), "approved")

    @admin.action(description="Reject selected withdrawals (returns the money to cash)", permissions=["review"])
    def reject_withdrawals(self, request, queryset):
        form = _ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._run(request, queryset, lambda w: services.withdrawal_reject(withdrawal=w, actor=request.user, reason=reason), "rejected")
            return None
        return self._intermediate(
            request, queryset, form=form, action="reject_withdrawals", title="Reject withdrawals",
            intro="The held amount returns to each player's cash.", submit_label="Reject",
        )

    @admin.action(description="Mark selected withdrawals paid", permissions=["review"])
    def mark_withdrawals_paid(self, request, queryset):
        form = _PayoutForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reference = form.cleaned_data["psp_reference"]
            self._run(
                request, queryset,
                lambda w: services.withdrawal_mark_paid(withdrawal=w, actor=request.user, psp_reference=reference), "marked paid",
            )
            return None
        return self._intermediate(
            request, queryset, form=form, action="mark_withdrawals_paid", title="Mark withdrawals paid",
            intro="Only approved withdrawals can be paid; the held money leaves to the PSP.", submit_label="Mark paid",
        )


def _decisions(withdrawal: Withdrawal) -> list[tuple[str, str]]:
    """(decision, url) for what the withdrawal's state allows."""
    allowed = []
    if withdrawal.status == WithdrawalStatus.REQUESTED:
        allowed.append("approve")
    if withdrawal.status in (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED):
        allowed.append("reject")
    return [(name, reverse("admin:payments_withdrawal_decide", args=[withdrawal.pk, name])) for name in allowed]


PAYMENTS_TAB_ROWS = 50


@player_panel("Withdrawals", order=10, tab="payments")
def _withdrawals_panel(player, request=None) -> PanelTable:
    """The player's withdrawals, newest first; open ones carry Approve and Reject for the role that may decide."""
    from django.middleware.csrf import get_token

    withdrawals = list(
        Withdrawal.objects.filter(player=player).select_related("reviewed_by").order_by("-created_at", "-pk")[:PAYMENTS_TAB_ROWS]
    )
    may_decide = request is not None and request.user.has_perm(services.REVIEW_PERMISSION)
    here = reverse("admin:players_player_change", args=[player.pk]) + "?tab=payments"
    rows = []
    for w in withdrawals:
        buttons = []
        for name, url in _decisions(w) if may_decide else []:
            if name == "approve":
                buttons.append(format_html(
                    '<form method="post" action="{}" style="display:inline">'
                    '<input type="hidden" name="csrfmiddlewaretoken" value="{}"><input type="hidden" name="next" value="{}">'
                    '<button type="submit" id="withdrawal-{}-approve">Approve</button></form>',
                    url, get_token(request), here, w.pk,
                ))
            else:
                change = reverse("admin:payments_withdrawal_change", args=[w.pk])
                buttons.append(format_html(' <a href="{}#decision" id="withdrawal-{}-reject">Reject…</a>', change, w.pk))
        rows.append([
            format_html('<a href="{}">#{}</a>', reverse("admin:payments_withdrawal_change", args=[w.pk]), w.pk),
            readable_time(w.created_at), f"{w.amount} {w.currency}", w.get_status_display(),
            w.reviewed_by.email if w.reviewed_by else "—", w.rejection_reason or w.review_note or "",
            format_html_join("", "{}", ((button,) for button in buttons)),
        ])
    return PanelTable(headers=["withdrawal", "requested", "amount", "status", "reviewed by", "note", ""], rows=rows,
                      empty="No withdrawals.")


@player_panel("Deposits", order=20, tab="payments")
def _deposits_panel(player) -> PanelTable:
    deposits = Deposit.objects.filter(player=player).order_by("-created_at", "-pk")[:PAYMENTS_TAB_ROWS]
    return PanelTable(
        headers=["deposit", "created", "amount", "method", "status", "PSP reference"],
        rows=[
            [format_html('<a href="{}">#{}</a>', reverse("admin:payments_deposit_change", args=[d.pk]), d.pk), readable_time(d.created_at),
             f"{d.amount} {d.currency}", d.method, d.get_status_display(), d.psp_reference or "—"]
            for d in deposits
        ],
        empty="No deposits.",
    )


@player_timeline("payments")
def _payments_timeline(player, *, limit: int) -> list[TimelineEvent]:
    """Deposits (as settled or refused) and every step of each withdrawal, from its history (who and why)."""
    events = []
    for d in Deposit.objects.filter(player=player).order_by("-created_at", "-pk")[:limit]:
        what = {DepositStatus.COMPLETED: "Deposit completed", DepositStatus.FAILED: "Deposit failed"}.get(d.status, "Deposit started")
        events.append(TimelineEvent(at=d.completed_at or d.created_at, what=f"{what}: {d.amount} {d.currency}",
                                    detail=d.failure_reason or d.method, source="payments",
                                    link=reverse("admin:payments_deposit_change", args=[d.pk])))
    history = Withdrawal.history.filter(player_id=player.pk).select_related("history_user").order_by("-history_date", "-history_id")
    first_in_state: dict[tuple[int, str], object] = {}
    for row in history[: limit * 3]:
        first_in_state[(row.id, row.status)] = row  # newest first, so the last kept is when the state began
    for row in first_in_state.values():
        amount = f"{format_amount(row.amount_minor, row.currency)} {row.currency}"
        events.append(TimelineEvent(
            at=row.history_date, what=f"Withdrawal #{row.id} {WithdrawalStatus(row.status).label.lower()}: {amount}",
            detail=row.history_change_reason or "", who=row.history_user.email if row.history_user else "", source="payments",
            link=reverse("admin:payments_withdrawal_change", args=[row.id]),
        ))
    return events
class _ReturnFundsForm(forms.Form):
    reason = forms.CharField(label="Reason (kept in the withdrawal's history)", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


@player_panel("Payments", order=35)
def _payments_panel(player):
    """Open withdrawals and deposit history at a glance, with a link to the queue filtered to the player."""
    summary = player_payments_summary(player=player)
    currency = player.currency
    queue_url = reverse("admin:payments_withdrawal_changelist") + f"?player__id__exact={player.pk}"
    return [
        ("Lifetime deposits", f"{summary.lifetime_deposits} {currency} ({summary.deposit_count} completed)"),
        ("Deposits awaiting the PSP", f"{summary.in_flight} {currency}"),
        ("Open withdrawals", format_html('<a href="{}">{} ({} {})</a>', queue_url, summary.open_withdrawals,
                                         summary.open_withdrawal_total, currency)),
        ("Lifetime withdrawals paid", f"{summary.paid_withdrawals} {currency}"),
        *([("Excluded: return funds", format_html('<a href="{}">Return net deposits to the payment method</a>',
                                                  reverse("admin:payments_return_funds", args=[player.pk])))]
          if player.status == "self_excluded" else []),
    ]
