"""Operators steer the catalog here; everyone else reads.

A change to a game (RTP, stake limits, enabled) or a provider asks for a reason and goes through a
service, which writes it with the history row. Sessions, rounds, provider transactions and statistics
are records: read-only for everyone. Provider keys are never shown (see `manage.py provider_key`), and
an open session's server seed is never shown either: it would let the viewer predict every round.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from apps.core.admin import AuditedHistoryAdmin, ReadOnlyAdmin, ReadOnlyHistoryAdmin
from apps.core.errors import DomainError
from apps.core.money import format_amount
from apps.core.panels import PanelTable, player_panel
from apps.core.timefmt import readable_time

from . import services
from .models import Game, GameDayStats, GameSession, Provider, ProviderTransaction, Round, SessionStatus


class _ReasonForm(forms.ModelForm):
    reason = forms.CharField(
        label="Reason for this change", max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the history with your name (regulators ask who changed an RTP, when and why).",
    )


class GameForm(_ReasonForm):
    class Meta:
        model = Game
        fields = services.GAME_EDITABLE

    def clean_rtp(self):
        rtp = self.cleaned_data["rtp"]
        low, high = services.rtp_range()
        if rtp is not None and not low <= rtp <= high:
            raise ValidationError(f"Use {low} to {high}.")
        return rtp

    def clean_stake_limits(self):
        try:
            return services.validate_stake_limits(self.cleaned_data["stake_limits"])
        except DomainError as exc:
            raise ValidationError(" ".join(str(m) for ms in exc.details.values() for m in ms) or exc.message) from None


class ProviderForm(_ReasonForm):
    launch_url = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Provider
        fields = services.PROVIDER_EDITABLE


class _ServiceEditAdmin(AuditedHistoryAdmin):
    """Edits go through a service with a reason; nothing is added or deleted here."""

    editable: tuple[str, ...] = ()

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _update(self, obj, changes, actor, reason):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in self.editable}
        try:
            updated = self._update(obj, changes, request.user, form.cleaned_data["reason"])
        except DomainError as exc:
            # Validated again by the service; shown as a message because the form has already been accepted.
            raise ValidationError(exc.message) from exc
        obj.refresh_from_db()
        return updated

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, f"Not saved: {' '.join(exc.messages)}", messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.get_full_path())


@admin.register(Game)
class GameAdmin(_ServiceEditAdmin):
    form = GameForm
    editable = services.GAME_EDITABLE
    list_display = ("slug", "name", "kind", "provider", "provider_game_code", "rtp", "volatility", "enabled")
    list_filter = ("kind", "enabled", "volatility", "provider")
    search_fields = ("slug", "name", "provider_game_code")
    list_select_related = ("provider",)
    readonly_fields = ("slug", "kind", "provider", "provider_game_code", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        fields = ["slug", "kind", "provider", "provider_game_code", *services.GAME_EDITABLE, "created_at", "updated_at"]
        if self.has_change_permission(request, obj):
            fields.append("reason")
        return fields

    def _update(self, obj, changes, actor, reason):
        return services.game_update(game=obj, changes=changes, actor=actor, reason=reason)


@admin.register(Provider)
class ProviderAdmin(_ServiceEditAdmin):
    form = ProviderForm
    editable = services.PROVIDER_EDITABLE
    list_display = ("code", "name", "protocol", "enabled", "has_key", "key_rotated_at")
    list_filter = ("protocol", "enabled")
    search_fields = ("code", "name")
    readonly_fields = ("code", "protocol", "key_status", "key_rotated_at", "created_at")

    def get_fields(self, request, obj=None):
        fields = ["code", "protocol", *services.PROVIDER_EDITABLE, "key_status", "key_rotated_at", "created_at"]
        if self.has_change_permission(request, obj):
            fields.append("reason")
        return fields

    @admin.display(description="key")
    def key_status(self, obj: Provider) -> str:
        if not obj.has_key:
            return "No key registered: every call is refused. Register one with `manage.py provider_key`."
        kind = "RSA public key" if obj.public_key_pem else "HMAC secret (encrypted, never shown)"
        return f"{kind}; rotate with `manage.py provider_key {obj.code}`."

    @admin.display(boolean=True, description="key")
    def has_key(self, obj: Provider) -> bool:
        return obj.has_key

    def _update(self, obj, changes, actor, reason):
        return services.provider_update(provider=obj, changes=changes, actor=actor, reason=reason)


@admin.register(GameSession)
class GameSessionAdmin(ReadOnlyHistoryAdmin):
    list_display = ("id", "player", "game", "status", "rtp", "nonce", "opened_at", "closed_at")
    list_filter = ("status", "game")
    search_fields = ("=id", "player__user__email")
    list_select_related = ("player__user", "game")
    date_hierarchy = "opened_at"
    readonly_fields = (
        "player", "game", "status", "server_seed_hash", "revealed_server_seed", "client_seed", "nonce", "rtp",
        "close_reason", "opened_at", "closed_at",
    )
    fields = readonly_fields

    @admin.display(description="server seed")
    def revealed_server_seed(self, obj: GameSession) -> str:
        return obj.server_seed if obj.status == SessionStatus.CLOSED else "(revealed when the session closes)"


@admin.register(Round)
class RoundAdmin(ReadOnlyAdmin):
    list_display = ("id", "session", "player", "game", "nonce", "stake", "payout", "rtp", "created_at")
    list_filter = ("game",)
    search_fields = ("=id", "=session__id", "player__user__email")
    list_select_related = ("player__user", "game", "session")
    date_hierarchy = "created_at"
    readonly_fields = (
        "session", "player", "game", "nonce", "stake", "payout", "rtp", "choices", "outcome", "bet_transaction",
        "win_transaction", "created_at",
    )
    fields = readonly_fields


@admin.register(ProviderTransaction)
class ProviderTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider", "transaction_id", "kind", "player", "game", "round_id", "amount", "rolled_back", "created_at")
    list_filter = ("provider", "kind", "rolled_back")
    search_fields = ("=transaction_id", "=round_id", "player__user__email")
    list_select_related = ("provider", "player__user", "game")
    date_hierarchy = "created_at"
    readonly_fields = (
        "provider", "transaction_id", "kind", "player", "game", "round_id", "reference_transaction_id", "amount",
        "rolled_back", "ledger_transaction", "created_at",
    )
    fields = readonly_fields

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, obj: ProviderTransaction) -> str:
        from apps.core.money import format_amount

        return f"{format_amount(obj.amount_minor, obj.currency)} {obj.currency}"


@admin.register(GameDayStats)
class GameDayStatsAdmin(ReadOnlyAdmin):
    list_display = ("day", "game", "currency", "rounds", "turnover", "payouts", "rtp_target", "rtp_actual", "z_score", "flagged")
    list_filter = ("flagged", "currency", "game")
    list_select_related = ("game",)
    date_hierarchy = "day"
    readonly_fields = ("game", "day", "currency", "rounds", "turnover", "payouts", "rtp_target", "rtp_actual", "z_score", "flagged",
                       "refreshed_at")
    fields = readonly_fields

    @admin.display(description="turnover", ordering="turnover_minor")
    def turnover(self, obj: GameDayStats) -> str:
        from apps.core.money import format_amount

        return format_amount(obj.turnover_minor, obj.currency)

    @admin.display(description="payouts", ordering="payouts_minor")
    def payouts(self, obj: GameDayStats) -> str:
        from apps.core.money import format_amount

        return format_amount(obj.payouts_minor, obj.currency)


@player_panel("Game sessions", order=10, tab="games")
def _sessions_panel(player) -> PanelTable:
    sessions = GameSession.objects.filter(player=player).select_related("game").order_by("-opened_at", "-pk")[:20]
    return PanelTable(
        headers=["session", "game", "opened", "closed", "rounds", "RTP", "status"],
        rows=[[s.pk, s.game.name, readable_time(s.opened_at), readable_time(s.closed_at, relative=False) if s.closed_at else "open",
               s.nonce, s.rtp, s.get_status_display()] for s in sessions],
        empty="No game sessions.",
    )


@player_panel("Rounds", order=20, tab="games")
def _rounds_panel(player) -> PanelTable:
    rounds = Round.objects.filter(player=player).select_related("game").order_by("-created_at", "-pk")[:50]
    return PanelTable(
        headers=["round", "when", "game", "stake", "payout", "balance after", "RTP"],
        rows=[[r.pk, readable_time(r.created_at, relative=False), r.game.name, f"{format_amount(r.stake_minor, r.currency)} {r.currency}",
               f"{format_amount(r.payout_minor, r.currency)} {r.currency}",
               f"{format_amount(r.balance_after_minor, r.currency)} {r.currency}", r.rtp] for r in rounds],
        empty="No rounds played in house games.",
    )
