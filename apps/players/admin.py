"""Operator UI for logins and players.

Status is never edited as a field: suspend, reinstate and close are actions (list and change
page) that ask for a reason and call the services, which record who and why in the history.
Profile edits also go through a service and need a reason.
"""

from __future__ import annotations

import contextlib
import uuid

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import authenticate
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django_fsm import can_proceed
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm
from unfold.forms import AuthenticationForm as ShellAuthenticationForm
from unfold.forms import UserChangeForm as ShellUserChangeForm

from apps.core.admin import (
    AuditedHistoryAdmin,
    ReadOnlyHistoryAdmin,
    action_hidden_fields,
    apply_to_each,
    confirm_action_page,
    shell_styled,
)
from apps.core.markets_hook import market_codes
from apps.core.panels import player_panel, render_player_overview

from . import services
from .models import ExcludedIdentity, Player, User

# --- Logins ---


class StaffAuthenticationForm(ShellAuthenticationForm):
    """The admin login, authenticating by `email` so django-axes counts failures per email, as for the API.

    Django's own form passes `username=`, which axes (AXES_USERNAME_FORM_FIELD = "email") cannot
    attribute to an email: failed admin logins would never lock out. The lock-out counts as the API's:
    five failures are answered as failures, the sixth attempt is the 429.
    """

    def clean(self):
        email = (self.cleaned_data.get("username") or "").strip().lower()
        password = self.cleaned_data.get("password")
        if email and password:
            axes_context: dict = {}
            self.user_cache = authenticate(self.request, email=email, password=password, response_context=axes_context)
            if self.user_cache is None:
                if "error" not in axes_context and self.request is not None:
                    # A wrong password, even the one that reaches the limit, is answered as such, as the
                    # API does (README: after 5 failures the 6th is refused). axes has recorded the lock;
                    # only a refusal of an already locked email ("error" set by the backend) is the 429.
                    self.request.axes_locked_out = False
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


admin.site.login_form = StaffAuthenticationForm


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        shell_styled(self)

    def clean_email(self) -> str:
        # Logins compare lower-cased emails (the API lower-cases what it is sent).
        return User.objects.normalize_email(self.cleaned_data["email"]).strip().lower()


class UserChangeForm(ShellUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict = {}

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"]).strip().lower()


@admin.register(User)
class UserAdmin(DjangoUserAdmin, ModelAdmin):
    """Email is the login; there is no username. Staff roles are the operator/compliance/support groups."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_superuser", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),
    )


# --- Players ---

# What an operator may correct by hand; date of birth, country, currency and document data belong to KYC.
EDITABLE_IDENTITY_FIELDS = (
    "second_surname",
    "nationality",
    "sex",
    "address_street",
    "address_city",
    "address_postcode",
    "address_country",
    "phone",
)

# Admin-offered status transitions: (transition method, service, verb for the page).
STATUS_TRANSITIONS = {
    "suspend": (services.player_suspend, "Suspend", "suspended"),
    "reinstate": (services.player_reinstate, "Reinstate", "reinstated"),
    "close": (services.player_close, "Close", "closed"),
    # A barred duplicate or register hit whose reason is gone (services.player_reinstate_barred refuses otherwise).
    "reactivate": (services.player_reinstate_barred, "Lift the bar on", "unbarred"),
}


class PlayerAdminForm(forms.ModelForm):
    market = forms.ChoiceField(
        choices=(), required=False, help_text="The licence whose rules apply; moving a player needs the change_player_market permission.",
    )
    change_reason = forms.CharField(
        required=False,
        max_length=255,
        label="Reason for this change",
        help_text="Required when you change anything; kept in the player's history.",
    )

    class Meta:
        model = Player
        fields = (*EDITABLE_IDENTITY_FIELDS, "is_test_player", "market")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "market" in self.fields:
            self.fields["market"].choices = [(code, code) for code in market_codes()]

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("market") and self.instance.pk:
            cleaned["market"] = self.instance.market  # not posted (read-only for this user): unchanged
        changed = [name for name in self.changed_data if name != "change_reason" and (name != "market" or cleaned.get("market"))]
        if changed and not (cleaned.get("change_reason") or "").strip():
            self.add_error("change_reason", "Say why you are changing this player.")
        return cleaned


class StatusReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown in the player's history and in status reports.",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


@admin.register(Player)
class PlayerAdmin(AuditedHistoryAdmin):
    form = PlayerAdminForm
    list_display = ("email", "full_name", "public_id", "status", "country", "market", "currency", "is_test_player", "created_at")
    list_filter = ("status", "market", "country", "currency", "is_test_player")
    list_select_related = ("user",)
    search_fields = ("user__email", "user__first_name", "user__last_name")
    search_help_text = "Email or name; an exact public id (UUID) or internal id also matches."
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    actions = ("suspend_players", "reinstate_players", "close_players")
    readonly_fields = (
        "overview",
        "public_id",
        "email",
        "full_name",
        "status",
        "status_reason",
        "status_changed_at",
        "date_of_birth",
        "country",
        "currency",
        "phone_verified",
        "email_verified",
        "id_document_type",
        "id_document_number",
        "signup_ip",
        "signup_device",
        "device_id",
        "activated_at",
        "created_at",
        "updated_at",
    )
    base_fieldsets = (
        ("360° overview", {"fields": ("overview",)}),
        ("Account", {"fields": ("public_id", "email", "full_name", "status", "status_reason", "status_changed_at", "is_test_player")}),
        (
            "Registration",
            {"fields": ("date_of_birth", "country", "market", "currency", "signup_ip", "signup_device", "device_id", "created_at")},
        ),
        ("Identity and contact", {"fields": EDITABLE_IDENTITY_FIELDS}),
        ("Verification", {"fields": ("email_verified", "phone_verified", "id_document_type", "id_document_number", "activated_at")}),
    )

    # Players come only from registration, and are closed, never deleted (records must be retained).
    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_status_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("players.change_player_status")

    def get_readonly_fields(self, request, obj=None):
        if request.user.has_perm("players.change_player_market"):
            return self.readonly_fields
        return (*self.readonly_fields, "market")

    def get_fieldsets(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return (*self.base_fieldsets, ("Why", {"fields": ("change_reason",)}))
        return self.base_fieldsets

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        with contextlib.suppress(ValueError):
            results |= queryset.filter(public_id=uuid.UUID(term))
        if term.isdigit():
            results |= queryset.filter(pk=int(term))
        return results, may_have_duplicates

    @admin.display(description="email", ordering="user__email")
    def email(self, obj: Player) -> str:
        return obj.user.email

    @admin.display(description="name", ordering="user__last_name")
    def full_name(self, obj: Player) -> str:
        return obj.user.get_full_name()

    @admin.display(description="360° view")
    def overview(self, obj: Player) -> str:
        return render_player_overview(obj)

    def save_model(self, request, obj: Player, form, change: bool) -> None:
        reason = form.cleaned_data.get("change_reason", "").strip()
        identity = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_IDENTITY_FIELDS}
        if identity:
            services.player_update_identity(player=obj, actor=request.user, reason=reason, **identity)
        moved = form.cleaned_data.get("market") and form.cleaned_data["market"] != Player.objects.get(pk=obj.pk).market
        if moved and request.user.has_perm("players.change_player_market"):
            services.player_change_market(player=obj, market=form.cleaned_data["market"], actor=request.user, reason=reason)
        if "is_test_player" in form.changed_data:
            services.player_set_test_flag(
                player=obj, actor=request.user, is_test_player=form.cleaned_data["is_test_player"], reason=reason
            )

    # --- Status transitions ---

    def get_urls(self):
        meta = self.model._meta
        return [
            path(
                "<path:object_id>/status/<str:transition>/",
                self.admin_site.admin_view(self.status_view),
                name=f"{meta.app_label}_{meta.model_name}_status",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_change_status_permission(request, obj):
            extra_context["status_transitions"] = [
                (verb, reverse("admin:players_player_status", args=[obj.pk, name]))
                for name, (_service, verb, _done) in STATUS_TRANSITIONS.items()
                if can_proceed(getattr(obj, name))
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    def _apply_status(self, request, players, transition: str, reason: str) -> None:
        service, _verb, done = STATUS_TRANSITIONS[transition]
        apply_to_each(
            self,
            request,
            players,
            lambda player: service(player=player, actor=request.user, reason=reason),
            verb=done,
            label=lambda player: player.user.email,
        )

    def _status_page(self, request, *, transition: str, players, form, hidden: list[tuple[str, str]], cancel_url: str):
        _service, verb, _done = STATUS_TRANSITIONS[transition]
        return confirm_action_page(
            self,
            request,
            title=f"{verb} players",
            intro=f"{verb} these players. The reason is recorded with your name in each player's history.",
            items=[f"{player.user.email} — {player.get_status_display()}" for player in players],
            form=form,
            hidden=hidden,
            submit_label=verb,
            submit_name="apply_status",
            cancel_url=cancel_url,
        )

    def _status_action(self, request, queryset, transition: str):
        """Changelist action with an intermediate page that asks for the reason."""
        players = list(queryset.select_related("user"))
        if "apply_status" in request.POST:
            form = StatusReasonForm(request.POST)
            if form.is_valid():
                self._apply_status(request, players, transition, form.cleaned_data["reason"])
                return None  # back to the changelist
        else:
            form = StatusReasonForm()
        return self._status_page(
            request, transition=transition, players=players, form=form,
            hidden=action_hidden_fields(request.POST.get("action", ""), players),
            cancel_url=reverse("admin:players_player_changelist"),
        )

    @admin.action(description="Suspend selected players (asks for a reason)", permissions=["change_status"])
    def suspend_players(self, request, queryset):
        return self._status_action(request, queryset, "suspend")

    @admin.action(description="Reinstate selected suspended players (asks for a reason)", permissions=["change_status"])
    def reinstate_players(self, request, queryset):
        return self._status_action(request, queryset, "reinstate")

    @admin.action(description="Close selected players' accounts (asks for a reason)", permissions=["change_status"])
    def close_players(self, request, queryset):
        return self._status_action(request, queryset, "close")

    def status_view(self, request, object_id, transition: str):
        """The same reason page for one player, reached from the buttons on the change page."""
        if transition not in STATUS_TRANSITIONS:
            raise PermissionDenied("Unknown status transition.")
        player = self.get_object(request, unquote(object_id))
        if player is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if not self.has_change_status_permission(request, player):
            raise PermissionDenied
        change_url = reverse("admin:players_player_change", args=[player.pk])
        if request.method == "POST":
            form = StatusReasonForm(request.POST)
            if form.is_valid():
                self._apply_status(request, [player], transition, form.cleaned_data["reason"])
                return HttpResponseRedirect(change_url)
        else:
            form = StatusReasonForm()
        return self._status_page(request, transition=transition, players=[player], form=form, hidden=[], cancel_url=change_url)


@player_panel("Account", order=10)
def _account_panel(player) -> list[tuple[str, object]]:
    return [
        ("Status", player.get_status_display()),
        ("Status reason", player.status_reason or "—"),
        ("Status since", player.status_changed_at or "—"),
        ("Registered", player.created_at),
        ("Activated (first KYC approval)", player.activated_at or "—"),
    ]


@admin.register(ExcludedIdentity)
class ExcludedIdentityAdmin(ReadOnlyHistoryAdmin):
    """Who is excluded as a person (fingerprints only); written and lifted by the self-exclusion services."""

    list_display = ("player", "kind", "active", "reason", "created_at", "lifted_at")
    list_filter = ("active", "kind")
    list_select_related = ("player__user",)
    search_fields = ("player__user__email",)
