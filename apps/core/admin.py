"""Admin base pieces shared by every app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.template.response import TemplateResponse
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.widgets import CHECKBOX_CLASSES, INPUT_CLASSES, SELECT_CLASSES, TEXTAREA_CLASSES

from .errors import DomainError
from .money import Money, MoneyError, parse_amount

CONFIRM_ACTION_TEMPLATE = "admin/confirm_action.html"


class AuditedHistoryAdmin(SimpleHistoryAdmin, ModelAdmin):
    """History is for reading (in the admin shell through unfold.contrib.simple_history's templates).

    simple-history's "revert to this version" saves the old row on POST
    even when the admin is read-only, which would bypass the services: it could lift a
    self-exclusion, loosen a limit or undo a KYC decision. Every change goes through a service.
    """

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied("Reverting from history is not allowed; use the actions, which call the services.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class NoEditPermissions:
    """Nobody adds, changes or deletes these rows through the admin, superusers included: writes go through services.

    Works on a ModelAdmin or an inline (the `obj=None` signature fits both).
    """

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyModelAdminMixin(NoEditPermissions):
    """No edit permissions, and no "delete selected" action even if a subclass relaxes a permission by mistake."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyAdmin(ReadOnlyModelAdminMixin, ModelAdmin):
    """View only, for models without history."""


class ReadOnlyHistoryAdmin(ReadOnlyModelAdminMixin, AuditedHistoryAdmin):
    """View and history only; reverting to an old version is refused as well."""


class MoneyFormField(forms.CharField):
    """An amount typed by an officer, in a currency the form sets on the field (`field.currency`): exact, or refused.

    The same rules as the API's amounts (plain decimal string, the currency's minor units, no exponent);
    `signed` also takes one leading + or - (an adjustment may debit).
    """

    def __init__(self, *, signed: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.signed = signed
        self.currency = ""

    def clean(self, value) -> Money:
        raw = super().clean(value).strip()
        negative = self.signed and raw.startswith("-")
        if self.signed and raw.startswith(("+", "-")):
            raw = raw[1:]  # one sign only: "--5.00" or "+-5.00" stay invalid
        try:
            money = parse_amount(raw, self.currency)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None
        return Money.from_minor(-money.minor, self.currency) if negative else money


Row = TypeVar("Row")


def log_service_action(modeladmin: admin.ModelAdmin, request, obj, message: str) -> None:
    """Record what an officer did through a service in the admin's log, so "Recent actions" and the object's
    history page show it. The service's own audit (simple-history, the ledger's actor and reason) stays the
    record of the change; this entry is the admin's index of who acted where."""
    if isinstance(obj, Model) and obj.pk is not None:
        modeladmin.log_change(request, obj, message)


def apply_to_each(
    modeladmin: admin.ModelAdmin,
    request,
    rows: Iterable[Row],
    call: Callable[[Row], Any],
    *,
    verb: str,
    label: Callable[[Row], str],
    done_label: Callable[[Row, Any], str] | None = None,
    refusal: Callable[[DomainError], str] = lambda exc: exc.message,
) -> int:
    """Call a service for each selected row and tell the officer what happened to every one.

    Each call is its own transaction (the service's), so one refusal does not undo the others;
    refusals are listed with the service's own reason. Returns how many rows were done.
    """
    done, refused = [], []
    for row in rows:
        try:
            result = call(row)
        except DomainError as exc:
            refused.append(f"{label(row)} ({refusal(exc)})")
        else:
            done.append(done_label(row, result) if done_label else label(row))
            log_service_action(modeladmin, request, row, verb.capitalize())
    if done:
        modeladmin.message_user(request, f"{verb.capitalize()}: {', '.join(done)}.", messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, f"Not {verb}: {'; '.join(refused)}.", messages.WARNING)
    return len(done)


def shell_styled(form: forms.Form) -> forms.Form:
    """Give a plain form's widgets the admin shell's (unfold's) classes, so a service's reason form looks like the rest.

    Model admins get unfold's widgets through formfield overrides; the forms our intermediate pages build
    by hand (a reason, an amount, a note) do not, and unstyled inputs are all but invisible in the shell.
    """
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.HiddenInput) or widget.attrs.get("data-shell-styled"):
            continue
        if isinstance(widget, forms.Textarea):
            classes = TEXTAREA_CLASSES
        elif isinstance(widget, forms.CheckboxInput):
            classes = CHECKBOX_CLASSES
        elif isinstance(widget, forms.Select):
            classes = SELECT_CLASSES
        elif isinstance(widget, forms.widgets.Input):
            classes = INPUT_CLASSES
        else:
            continue
        widget.attrs["class"] = " ".join(filter(None, [widget.attrs.get("class", ""), *classes]))
        widget.attrs["data-shell-styled"] = "1"
    return form


def shell_adminform(model_admin: admin.ModelAdmin, form: forms.Form) -> helpers.AdminForm:
    """A hand-built form laid out as the admin's change form lays out its fields (one fieldset, shell-styled)."""
    shell_styled(form)
    visible = [field.name for field in form.visible_fields()]
    return helpers.AdminForm(form, [(None, {"fields": visible})], {}, model_admin=model_admin)


def action_hidden_fields(action: str, objects: Iterable) -> list[tuple[str, str]]:
    """What the changelist posted to reach an action, so the intermediate page can post it again."""
    return [("action", action), *[(helpers.ACTION_CHECKBOX_NAME, str(obj.pk)) for obj in objects]]


def confirm_action_page(
    model_admin: admin.ModelAdmin,
    request,
    *,
    title: str,
    form: forms.Form,
    submit_label: str,
    items: Iterable[str] = (),
    intro: str = "",
    hidden: Iterable[tuple[str, str]] = (),
    submit_name: str = "",
    cancel_url: str | None = None,
) -> TemplateResponse:
    """The page between "do this" and the service call: what is affected, the form asking for the reason, and submit.

    `hidden` carries whatever the page must post again (see action_hidden_fields for a changelist action);
    `submit_name` is the button's name when the view tells a confirmed post from the first one by it.
    The form is laid out as the admin's change form lays out its fields; its hidden fields post with it.
    """
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": title,
        "intro": intro,
        "items": list(items),
        "form": form,
        "adminform": shell_adminform(model_admin, form),
        "hidden": list(hidden),
        "submit_label": submit_label,
        "submit_name": submit_name,
        "cancel_url": cancel_url or reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
    }
    return TemplateResponse(request, CONFIRM_ACTION_TEMPLATE, context)


class WorkQueueFilter(admin.SimpleListFilter):
    """A work queue opens on what still needs a decision; "All" is one click away.

    Subclasses name the state field and the open states. An explicit filter on the state field
    wins over the default, so "By status: Paid" shows paid rows, not an empty page.
    """

    title = "queue"
    parameter_name = "queue"
    state_field = "status"
    open_states: tuple[str, ...] = ()
    open_label = "Waiting for a decision"

    def lookups(self, request, model_admin):
        return [("open", self.open_label), ("all", "All")]

    def _state_filtered(self) -> bool:
        return any(key.startswith(f"{self.state_field}__") for key in self._request_params)

    def __init__(self, request, params, model, model_admin):
        self._request_params = dict(request.GET)
        super().__init__(request, params, model, model_admin)

    def value(self):
        chosen = super().value()
        if chosen is None and not self._state_filtered():
            return "open"
        return chosen or "all"

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(**{f"{self.state_field}__in": self.open_states})
        return queryset

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }
