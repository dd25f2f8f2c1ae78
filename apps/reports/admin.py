"""Compliance's report desk: the runs, their files, and a form to ask for any period (through the service)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.admin import ReadOnlyHistoryAdmin, shell_adminform
from apps.core.errors import ValidationFailed

from . import types  # noqa: F401  (fills the registry before the choices below are read)
from .models import ReportRun, RunStatus
from .registry import REGISTRY
from .services import report_run_request


class ReportRunRequestForm(forms.Form):
    report_type = forms.ChoiceField(choices=[(code, f"{code}: {REGISTRY[code].description}") for code in sorted(REGISTRY)])
    period = forms.CharField(max_length=10, help_text="YYYY-MM-DD (daily), YYYY-MM (monthly) or YYYY-Qn (quarterly).")


@admin.register(ReportRun)
class ReportRunAdmin(ReadOnlyHistoryAdmin):
    list_display = ("id", "report_type", "period", "version", "status", "rows", "requested", "created_at", "download")
    list_filter = ("status", "report_type")
    search_fields = ("period", "file_name", "sha256")
    readonly_fields = (
        "report_type", "period", "version", "supersedes", "status", "requested_by", "schedule_name", "file_name",
        "rows", "sha256", "record_id", "error", "started_at", "finished_at", "created_at", "download",
    )
    exclude = ("file",)
    change_list_template = "admin/reports/reportrun/change_list.html"

    @admin.display(description="asked by")
    def requested(self, obj: ReportRun) -> str:
        return obj.requested_by.email if obj.requested_by_id else obj.schedule_name

    @admin.display(description="file")
    def download(self, obj: ReportRun) -> str:
        if obj.status != RunStatus.DONE:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:reports_reportrun_file", args=[obj.pk]), obj.file_name)

    def get_urls(self):
        extra = [
            path("<int:run_id>/file/", self.admin_site.admin_view(self.file_view), name="reports_reportrun_file"),
            path("request/", self.admin_site.admin_view(self.request_view), name="reports_reportrun_request"),
        ]
        return extra + super().get_urls()

    def file_view(self, request, run_id: int):
        if not request.user.has_perm("reports.download_reportrun"):
            raise PermissionDenied
        run = ReportRun.objects.filter(pk=run_id, status=RunStatus.DONE).first()
        if run is None:
            raise Http404("No finished run with this id.")
        try:
            handle = run.file.open("rb")
        except FileNotFoundError:
            raise Http404("The file is missing from storage.") from None
        response = FileResponse(handle, as_attachment=True, filename=run.file_name)
        response["Cache-Control"] = "private, no-store"
        return response

    def request_view(self, request):
        if not request.user.has_perm("reports.request_reportrun"):
            raise PermissionDenied
        form = ReportRunRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = report_run_request(
                    report_type=form.cleaned_data["report_type"], period=form.cleaned_data["period"], requested_by=request.user
                )
            except ValidationFailed as exc:
                for field, errors in exc.details.items():
                    form.add_error("period" if field == "period" else None, errors)
            else:
                self.message_user(request, f"Run {run.pk} ({run}) queued.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:reports_reportrun_changelist"))
        context = {**self.admin_site.each_context(request), "title": "Ask for a report run", "form": form, "opts": self.model._meta,
                   "adminform": shell_adminform(self, form)}
        return TemplateResponse(request, "admin/reports/reportrun/request.html", context)
