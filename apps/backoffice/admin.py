"""Third-party admins re-registered in the admin shell (django-unfold), with least privilege on their actions.

django.contrib.auth, django-celery-beat, django-axes and simplejwt's token blacklist register stock
ModelAdmins; in the shell their widgets would be unstyled and some of their actions need no permission
at all (any member of staff who can see the list could disable a schedule or clear lock-outs). The
backoffice is the top layer and the last app loaded, so it replaces them here.
"""

from __future__ import annotations

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from django_otp.plugins.otp_totp import admin as totp_admin
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist import admin as blacklist_admin
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from unfold.admin import ModelAdmin, TabularInline
from unfold.widgets import UnfoldAdminSelectWidget

from apps.core.admin import log_service_action, shell_styled

for model in (
    Group,
    AccessAttempt,
    AccessLog,
    AccessFailureLog,
    OutstandingToken,
    BlacklistedToken,
    PeriodicTask,
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    SolarSchedule,
    TOTPDevice,
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin, ModelAdmin):
    """The staff roles; their permissions are rewritten from the apps' roles.py at every migrate (core.role_sync)."""


@admin.register(AccessAttempt)
class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin, ModelAdmin):
    # Clearing expired attempts deletes rows: only who may delete attempts (operators unlock) may run it.
    actions = ["cleanup_expired_attempts"]

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request, queryset):
        return super().cleanup_expired_attempts(request, queryset)


@admin.register(AccessLog)
class AccessLogAdmin(axes_admin.AccessLogAdmin, ModelAdmin):
    pass


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(axes_admin.AccessFailureLogAdmin, ModelAdmin):
    pass


@admin.register(OutstandingToken)
class OutstandingTokenAdmin(blacklist_admin.OutstandingTokenAdmin, ModelAdmin):
    pass


@admin.register(BlacklistedToken)
class BlacklistedTokenAdmin(blacklist_admin.BlacklistedTokenAdmin, ModelAdmin):
    pass


class PeriodicTaskInline(beat_admin.PeriodicTaskInline, TabularInline):
    pass


def registered_tasks() -> list[str]:
    """The task names the workers know (celery's own internals left out), as django-celery-beat lists them."""
    return [name for name, _label in beat_admin.TaskSelectWidget().tasks_as_choices() if name]


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    """The task is chosen from the registered tasks, never typed: a mistyped name would be scheduled and
    run nothing, silently (django-celery-beat's own form accepts any text, and any "registered" value)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "---------"), *((name, name) for name in registered_tasks())]
        self.fields["regtask"] = forms.ChoiceField(
            label="Task", choices=choices, widget=UnfoldAdminSelectWidget(choices=choices),
            help_text="One of the tasks the workers have registered.",
        )
        self.fields.pop("task", None)
        if self.instance.pk:
            self.fields["regtask"].initial = self.instance.task
        shell_styled(self)

    def clean(self):
        # Not django-celery-beat's clean: it reads the free-text field this form no longer has.
        data = forms.ModelForm.clean(self)
        if data.get("regtask"):
            self.instance.task = data["task"] = data["regtask"]
        if data.get("expire_seconds") is not None and data.get("expires"):
            raise forms.ValidationError("Only one can be set, in expires and expire_seconds")
        return data


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin, ModelAdmin):
    """Schedules of the regulatory and protection jobs; compliance edits them (apps/core/roles.py)."""

    form = PeriodicTaskForm
    list_display = ("name", "task", "enabled", "scheduler", "last_run_at", "total_run_count")
    fieldsets = (
        (None, {"fields": ("name", "regtask", "enabled", "description")}),
        ("Schedule", {"fields": ("interval", "crontab", "crontab_translation", "solar", "clocked", "start_time",
                                 "last_run_at", "total_run_count", "one_off")}),
        ("Arguments", {"fields": ("args", "kwargs"), "classes": ("collapse",)}),
        ("Execution options", {"fields": ("expires", "expire_seconds", "queue", "exchange", "routing_key", "priority",
                                          "headers"), "classes": ("collapse",)}),
    )
    readonly_fields = ("last_run_at", "total_run_count", "crontab_translation")

    @admin.action(description="Enable selected tasks", permissions=["change"])
    def enable_tasks(self, request, queryset):
        return super().enable_tasks(request, queryset)

    @admin.action(description="Disable selected tasks", permissions=["change"])
    def disable_tasks(self, request, queryset):
        return super().disable_tasks(request, queryset)

    @admin.action(description="Toggle activity of selected tasks", permissions=["change"])
    def toggle_tasks(self, request, queryset):
        return super().toggle_tasks(request, queryset)

    @admin.action(description="Run selected tasks now", permissions=["change"])
    def run_tasks(self, request, queryset):
        """Enqueue each task through Celery (as beat would), and note who ran what in the admin's log."""
        tasks = list(queryset)
        result = super().run_tasks(request, queryset)
        for task in tasks:
            log_service_action(self, request, task, "Ran now")
        return result


class _ScheduleAdmin(ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(ClockedSchedule)
class ClockedScheduleAdmin(beat_admin.ClockedScheduleAdmin, _ScheduleAdmin):
    pass


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin, _ScheduleAdmin):
    pass


@admin.register(SolarSchedule)
class SolarScheduleAdmin(beat_admin.SolarScheduleAdmin, _ScheduleAdmin):
    pass


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(beat_admin.IntervalScheduleAdmin, _ScheduleAdmin):
    pass


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(totp_admin.TOTPDeviceAdmin, ModelAdmin):
    """Staff's authenticator devices (a superuser removes a lost one); staff add their own at /admin/2fa/setup/."""
