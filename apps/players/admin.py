"""Operator UI for logins and players.

Status is never edited as a field: suspend, reinstate and close are actions (list and change
page) that ask for a reason and call the services, which record who and why in the history.
Profile edits also go through a service and need a reason.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import authenticate
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django_fsm import can_proceed
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm
from unfold.forms import AuthenticationForm as ShellAuthenticationForm
from unfold.forms import UserChangeForm as ShellUserChangeForm

from apps.core import clock
from apps.core.admin import (
    AuditedHistoryAdmin,
    ReadOnlyHistoryAdmin,
    action_hidden_fields,
    apply_to_each,
    confirm_action_page,
    shell_styled,
)
from apps.core.errors import DomainError
from apps.core.exports import CsvExportAdminMixin
from apps.core.markets_hook import market_codes
from apps.core.models import ExportKind
from apps.core.panels import (
    PanelTable,
    TimelineEvent,
    player_panel,
    player_timeline,
    player_timeline_events,
    render_player_overview,
    visible_tabs,
)
from apps.core.player_list import annotate_player_columns, player_columns
from apps.core.timefmt import readable_time

from . import selectors, services
from .models import ExcludedIdentity, Player, PlayerNote, PlayerStatus, PlayerTag, Tag, User

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


class MarketFilter(admin.SimpleListFilter):
    """The licences from the markets table (a handful of rows), not a DISTINCT over every player on each page."""

    title = "market"
    parameter_name = "market"

    def lookups(self, request, model_admin):
        return [(code, code) for code in market_codes()]

    def queryset(self, request, queryset):
        return queryset.filter(market=self.value()) if self.value() else queryset


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return list(Tag.objects.values_list("pk", "name"))

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(player_tags__tag_id=int(value))
        return queryset


def _column_display(column):
    def show(obj):
        return column.display(obj, getattr(obj, column.name, None))

    return admin.display(description=column.label, ordering=column.name)(show)


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class TagForm(forms.Form):
    tag = forms.ModelChoiceField(queryset=Tag.objects.all())
    reason = forms.CharField(max_length=255)


class PageHeading:
    """The player as the last crumb of the page header (unfold's `header_title` tag links it by `_meta` and `pk` and
    names it by str()). The page names the player for a reader; the model's own str() keeps the public UUID, which
    the audit rows (admin log, history) store to tell one player from another."""

    def __init__(self, player: Player, title: str) -> None:
        self._meta = player._meta
        self.pk = player.pk
        self.title = title

    def __str__(self) -> str:
        return self.title


def player_page_title(player: Player) -> str:
    return f"Player 360 · {player.user.get_full_name() or player.user.email}"


@admin.register(Player)
class PlayerAdmin(CsvExportAdminMixin, AuditedHistoryAdmin):
    """The player list (fits 1440 px: no UUID; balance and KYC come from their apps through core.player_list)
    and the player's 360° page, as tabs fed by core.panels."""

    form = PlayerAdminForm
    list_select_related = ("user",)
    list_per_page = 50
    search_fields = ("user__email",)  # shows the box; the search itself is selectors.player_search
    search_help_text = "Email, name (accents ignored), phone, or an id (public UUID or internal number)."
    ordering = ("-created_at",)
    actions = ("suspend_players", "reinstate_players", "close_players")
    export_kind = ExportKind.PLAYERS
    export_permission = "core.export_players"
    export_header = (
        "id", "public_id", "email", "first_name", "last_name", "phone", "country", "market", "currency", "status",
        "kyc_status", "cash_balance", "tags", "registered_at", "last_login",
    )
    readonly_fields = (
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
        ("Account", {"fields": ("public_id", "email", "full_name", "status", "status_reason", "status_changed_at", "is_test_player")}),
        (
            "Registration",
            {"fields": ("date_of_birth", "country", "market", "currency", "signup_ip", "signup_device", "device_id", "created_at")},
        ),
        ("Identity and contact", {"fields": EDITABLE_IDENTITY_FIELDS}),
        ("Verification", {"fields": ("email_verified", "phone_verified", "id_document_type", "id_document_number", "activated_at")}),
    )

    # --- The list ---

    def get_queryset(self, request):
        return annotate_player_columns(super().get_queryset(request).select_related("user"))

    def get_list_display(self, request):
        columns = {column.name: _column_display(column) for column in player_columns()}
        return ("player_display", *columns.values(), "market", "status", "last_login")

    def get_list_filter(self, request):
        extra = {column.name: column.list_filter for column in player_columns() if column.list_filter}
        balance = [f for name, f in extra.items() if "balance" in name]
        others = [f for name, f in extra.items() if "balance" not in name]
        return ("status", *others, MarketFilter, TagFilter, ("created_at", admin.DateFieldListFilter), *balance)

    def get_search_results(self, request, queryset, search_term):
        return selectors.player_search(queryset, search_term), False

    @admin.display(description="player", ordering="user__email")
    def player_display(self, obj: Player) -> str:
        return format_html('{}<br><span class="quiet">{}</span>', obj.user.email, obj.user.get_full_name())

    @admin.display(description="last login", ordering="user__last_login")
    def last_login(self, obj: Player) -> str:
        return readable_time(obj.user.last_login)

    def export_queryset(self, queryset):
        return queryset.prefetch_related("player_tags__tag")

    def export_rows(self, players):
        columns = player_columns()
        for player in players:
            values = {column.name: column.csv(player, getattr(player, column.name, None)) for column in columns}
            yield [
                player.pk, player.public_id, player.user.email, player.user.first_name, player.user.last_name, player.phone,
                player.country, player.market, player.currency, player.status, values.get("kyc_state", ""),
                values.get("cash_balance", ""), ";".join(sorted(t.tag.name for t in player.player_tags.all())),
                player.created_at, player.user.last_login,
            ]

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

    @admin.display(description="email", ordering="user__email")
    def email(self, obj: Player) -> str:
        return obj.user.email

    @admin.display(description="name", ordering="user__last_name")
    def full_name(self, obj: Player) -> str:
        return obj.user.get_full_name()

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
            path("<path:object_id>/notes/add/", self.admin_site.admin_view(self.note_add_view), name="players_player_note_add"),
            path("<path:object_id>/tags/<str:operation>/", self.admin_site.admin_view(self.tag_view), name="players_player_tag"),
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
        if obj is not None:
            tabs = visible_tabs(request)
            active = request.GET.get("tab", "overview")
            if active not in {key for key, _label in tabs}:
                active = "overview"
            change_url = reverse("admin:players_player_change", args=[obj.pk])
            extra_context.update(
                player_tabs=[(key, label, f"{change_url}?tab={key}") for key, label in tabs],
                active_tab=active,
                tab_content=render_player_overview(obj, request=request, tab=active),
                # The browser tab and the header: "Player 360 · Anna Schmidt", not Django's "Change player" after
                # str(obj) (the email and a raw UUID).
                title=player_page_title(obj),
                subtitle=None,
                page_heading=PageHeading(obj, player_page_title(obj)),
            )
            if self.has_change_status_permission(request, obj):
                extra_context["status_transitions"] = [
                    (verb, reverse("admin:players_player_status", args=[obj.pk, name]))
                    for name, (_service, verb, _done) in STATUS_TRANSITIONS.items()
                    if can_proceed(getattr(obj, name))
                ]
        return super().change_view(request, object_id, form_url, extra_context)

    # --- Notes and tags (buttons on the overview tab; POST only, permission checked here and in the service) ---

    def _player_or_404(self, request, object_id) -> Player:
        player = self.get_object(request, unquote(object_id))
        if player is None:
            raise PermissionDenied("No such player, or not yours to see.")
        return player

    def _back(self, player: Player) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:players_player_change", args=[player.pk]) + "?tab=overview")

    def note_add_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(services.NOTE_PERMISSION):
            raise PermissionDenied("Your role may not add notes.")
        player = self._player_or_404(request, object_id)
        form = NoteForm(request.POST)
        if form.is_valid():
            services.player_note_add(player=player, author=request.user, text=form.cleaned_data["text"])
            self.log_change(request, player, "Note added")
            self.message_user(request, "Note added.", messages.SUCCESS)
        else:
            self.message_user(request, "The note was empty; nothing added.", messages.WARNING)
        return self._back(player)

    def tag_view(self, request, object_id, operation: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        permission = services.TAG_PERMISSION if operation == "add" else services.UNTAG_PERMISSION
        if operation not in ("add", "remove") or not request.user.has_perm(permission):
            raise PermissionDenied("Your role may not change tags.")
        player = self._player_or_404(request, object_id)
        form = TagForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Choose a tag and give a reason.", messages.WARNING)
            return self._back(player)
        tag, reason = form.cleaned_data["tag"], form.cleaned_data["reason"]
        try:
            if operation == "add":
                services.player_tag_add(player=player, tag=tag, actor=request.user, reason=reason)
            else:
                services.player_tag_remove(player=player, tag=tag, actor=request.user, reason=reason)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.log_change(request, player, f"Tag {tag} {'added' if operation == 'add' else 'removed'}: {reason}")
            self.message_user(request, f"Tag {tag} {'added' if operation == 'add' else 'removed'}.", messages.SUCCESS)
        return self._back(player)

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
        ("Name", player.user.get_full_name() or "—"),
        ("Email", player.user.email),
        ("Phone", player.phone or "—"),
        ("Born", player.date_of_birth),
        ("Country", player.country),
        ("Status", player.get_status_display()),
        ("Status reason", player.status_reason or "—"),
        ("Status since", readable_time(player.status_changed_at)),
        ("Registered", readable_time(player.created_at)),
        ("Activated (first KYC approval)", readable_time(player.activated_at)),
        ("Last login", readable_time(player.user.last_login)),
    ]


def _csrf_input(request) -> str:
    from django.middleware.csrf import get_token

    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))


@player_panel("Tags", order=12)
def _tags_panel(player, request=None) -> list[tuple[str, object]]:
    tags = selectors.player_tags(player=player)
    shown = format_html_join(
        ", ", '<span class="player-tag" title="{}">{}</span>',
        ((f"{t.reason} — {t.added_by or 'system'}, {readable_time(t.created_at, relative=False)}", t.tag.name) for t in tags),
    ) or "none"
    rows: list[tuple[str, object]] = [("Tags", shown)]
    if request is not None and request.user.has_perm(services.TAG_PERMISSION):
        url = reverse("admin:players_player_tag", args=[player.pk, "add"])
        options = format_html_join("", '<option value="{}">{}</option>', Tag.objects.values_list("pk", "name"))
        rows.append(("Add or remove a tag", format_html(
            '<form method="post" action="{}" id="player-tag-form">{}<select name="tag" id="player-tag-select">{}</select> '
            '<input name="reason" placeholder="reason" required maxlength="255" id="player-tag-reason"> '
            '<button type="submit" id="player-tag-add">Add tag</button>'
            '{}</form>',
            url, _csrf_input(request), options,
            format_html(' <button type="submit" class="secondary" formaction="{}" id="player-tag-remove">Remove tag</button>',
                        reverse("admin:players_player_tag", args=[player.pk, "remove"]))
            if request.user.has_perm(services.UNTAG_PERMISSION) else "",
        )))
    return rows


@player_panel("Internal notes", order=13)
def _notes_panel(player, request=None) -> PanelTable:
    notes = selectors.player_notes(player=player, limit=20)
    footer = ""
    if request is not None and request.user.has_perm(services.NOTE_PERMISSION):
        footer = format_html(
            '<form method="post" action="{}" id="player-note-form">{}<textarea name="text" rows="2" cols="60" required '
            'maxlength="4000" id="player-note-text" placeholder="Internal note (never shown to the player)"></textarea> '
            '<button type="submit" id="player-note-add">Add note</button></form>',
            reverse("admin:players_player_note_add", args=[player.pk]), _csrf_input(request),
        )
    return PanelTable(
        headers=["when", "author", "note"],
        rows=[[readable_time(n.created_at), n.author.email, n.text] for n in notes],
        empty="No notes yet.", footer=footer,
    )


@player_panel("Logins", order=10, tab="logins")
def _logins_panel(player) -> PanelTable:
    """Successful and failed logins of the player's email, as django-axes records them (API and admin alike)."""
    from axes.models import AccessFailureLog, AccessLog

    email = player.user.email
    since = clock.now() - timedelta(days=365)
    ok = AccessLog.objects.filter(username=email, attempt_time__gte=since).order_by("-attempt_time")[:50]
    failed = AccessFailureLog.objects.filter(username=email, attempt_time__gte=since).order_by("-attempt_time")[:50]
    rows = [(a.attempt_time, "logged in", a.ip_address, a.user_agent, a.path_info) for a in ok]
    rows += [(a.attempt_time, "locked out" if a.locked_out else "failed", a.ip_address, a.user_agent, a.path_info) for a in failed]
    rows.sort(key=lambda row: row[0], reverse=True)
    return PanelTable(
        headers=["when", "result", "IP", "device (user agent)", "where"],
        rows=[[readable_time(when), result, ip or "—", (agent or "")[:80], where] for when, result, ip, agent, where in rows[:50]],
        empty="No logins recorded in the last year.",
    )


@player_panel("Timeline", order=10, tab="timeline")
def _timeline_panel(player, request=None) -> PanelTable:
    events = player_timeline_events(player, request=request, limit=200)
    return PanelTable(
        headers=["when", "what", "detail", "by"],
        rows=[
            [readable_time(e.at), format_html('<a href="{}">{}</a>', e.link, e.what) if e.link else e.what, e.detail, e.who or "—"]
            for e in events
        ],
        empty="Nothing has happened to this player yet.",
    )


_STATUS_LABELS = dict(PlayerStatus.choices)


@player_timeline("players")
def _player_timeline(player, *, limit: int) -> list[TimelineEvent]:
    """Profile history (registration, status changes, identity edits, market moves), notes and tags."""
    events: list[TimelineEvent] = []
    # One extra row, so the oldest shown can be compared with the one before it (prev_record would query per row).
    history = list(player.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    for row, previous in zip(history[:limit], [*history[1 : limit + 1], None], strict=False):
        if row.history_type == "+":
            what = "Registered"
        elif previous is not None and previous.status != row.status:
            before, after = previous.status, row.status
            what = f"Status: {_STATUS_LABELS.get(before, before)} → {_STATUS_LABELS.get(after, after)}"
        else:
            what = "Profile changed"
        who = row.history_user.email if row.history_user else ""
        events.append(TimelineEvent(at=row.history_date, what=what, detail=row.history_change_reason or "", who=who, source="players"))
    for note in selectors.player_notes(player=player, limit=limit):
        events.append(TimelineEvent(at=note.created_at, what="Note", detail=note.text[:200], who=note.author.email, source="players"))
    tag_history = PlayerTag.history.filter(player_id=player.pk).select_related("tag", "history_user").order_by("-history_date")[:limit]
    for row in tag_history:
        verb = {"+": "Tagged", "-": "Untagged"}.get(row.history_type, "Tag changed")
        who = row.history_user.email if row.history_user else ""
        events.append(TimelineEvent(at=row.history_date, what=f"{verb}: {row.tag.name}", detail=row.history_change_reason or "",
                                    who=who, source="players"))
    return events


@admin.register(Tag)
class TagAdmin(AuditedHistoryAdmin):
    list_display = ("name", "description", "players")
    search_fields = ("name",)

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(player_count=Count("player_tags"))

    @admin.display(description="players", ordering="player_count")
    def players(self, obj: Tag) -> int:
        return obj.player_count

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a tag in use is history; rename or describe it instead

    def save_model(self, request, obj, form, change) -> None:
        obj._history_user = request.user
        obj._change_reason = "edited in the admin"
        super().save_model(request, obj, form, change)


@admin.register(PlayerNote)
class PlayerNoteAdmin(ReadOnlyHistoryAdmin):
    """Every note, searchable; added from the player's page (services.player_note_add), never edited."""

    list_display = ("created_at", "player", "author", "text")
    list_select_related = ("player__user", "author")
    search_fields = ("player__user__email", "text")


@admin.register(ExcludedIdentity)
class ExcludedIdentityAdmin(ReadOnlyHistoryAdmin):
    """Who is excluded as a person (fingerprints only); written and lifted by the self-exclusion services."""

    list_display = ("player", "kind", "active", "reason", "created_at", "lifted_at")
    list_filter = ("active", "kind")
    list_select_related = ("player__user",)
    search_fields = ("player__user__email",)
