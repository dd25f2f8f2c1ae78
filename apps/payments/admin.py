"""Operators' view of deposits and the withdrawal queue.

Nothing here edits a status or an amount: the pages are read-only and every change is an
action that calls a service, which checks the permission again, locks the row and posts
to the ledger.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from apps.core import clock
from apps.core.admin import ReadOnlyHistoryAdmin, WorkQueueFilter, action_hidden_fields, apply_to_each, confirm_action_page
from apps.core.panels import player_panel

from . import services
from .models import Deposit, Withdrawal, WithdrawalStatus
from .selectors import player_payments_summary

_MONEY_READONLY = ("player", "amount_display", "currency")


class _ReadOnlyAdmin(ReadOnlyHistoryAdmin):
    """View and history only: money rows change through services, never through a form."""

    @admin.display(description="amount", ordering="amount_minor")
    def amount_display(self, obj) -> str:
        return f"{obj.amount} {obj.currency}"


@admin.register(Deposit)
class DepositAdmin(_ReadOnlyAdmin):
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


@admin.register(Withdrawal)
class WithdrawalAdmin(_ReadOnlyAdmin):
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

    def get_urls(self):
        from django.urls import path

        extra = [path("return-funds/<int:player_id>/", self.admin_site.admin_view(self.return_funds_view), name="payments_return_funds")]
        return extra + super().get_urls()

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
