"""CSV exports from the admin: streamed row by row, recorded (who, what filter, when, how many rows).

A list page opts in with `CsvExportAdminMixin`: an "Export CSV" button on the changelist opens a small
form for the date range; the file then holds exactly what the list shows (its filters and search) within
that range. The file is a StreamingHttpResponse fed by `iterator()`, so a year of deposits never sits in
memory; money is written from integer minor units (`format_amount`), never through a float.

Every export is a `core.DataExport` row written before the first byte and completed after the last
(GDPR art. 5(2) and 30: the controller shows who processed which personal data).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .admin import ReadOnlyAdmin
from .models import DataExport
from .services import data_export_finish, data_export_start

EXPORT_TEMPLATE = "admin/csv_export.html"
RANGE_PARAMS = ("date_from", "date_to", "export")

# A cell a spreadsheet would run as a formula (CSV injection, OWASP): text starting with one of these is
# prefixed with a quote. Numbers (a debit is "-10.00") are left as they are.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


class _Echo:
    """csv.writer writes into this and gets the line back, so each row can be yielded as it is made."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def stream_csv(*, export: DataExport, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingHttpResponse:
    """The file, one line at a time; the export record is completed with the row count after the last line."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        count = 0
        for row in rows:
            count += 1
            yield writer.writerow([csv_cell(value) for value in row])
        data_export_finish(export_id=export.pk, rows=count)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ExportRangeForm(forms.Form):
    """UTC calendar days, both inclusive; either end may stay open."""

    date_from = forms.DateField(label="From (UTC day, inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To (UTC day, inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            raise forms.ValidationError("The end of the range is before its start.")
        return cleaned

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) as aware datetimes."""
        start, end = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        return (
            datetime.combine(start, time.min, tzinfo=UTC) if start else None,
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC) if end else None,
        )

    def as_filters(self) -> dict[str, str]:
        return {name: value.isoformat() for name, value in self.cleaned_data.items() if value}


def apply_range(queryset, field: str, form: ExportRangeForm):
    start, end = form.bounds()
    if start:
        queryset = queryset.filter(**{f"{field}__gte": start})
    if end:
        queryset = queryset.filter(**{f"{field}__lt": end})
    return queryset


def export_form_page(request, *, admin_site, opts, title: str, form: ExportRangeForm, hidden: dict[str, str], cancel_url: str):
    context = {
        **admin_site.each_context(request),
        "opts": opts,
        "title": title,
        "form": form,
        "hidden": sorted(hidden.items()),
        "cancel_url": cancel_url,
    }
    return TemplateResponse(request, EXPORT_TEMPLATE, context)


class CsvExportAdminMixin:
    """Adds `<changelist>/export/` to a ModelAdmin: the filtered list as CSV, within a date range, recorded.

    Subclasses set `export_kind` (a core.ExportKind), `export_permission`, `export_date_field`,
    `export_header` and implement `export_rows(queryset)`.
    """

    export_kind: str = ""
    export_permission: str = ""
    export_date_field: str = "created_at"
    export_header: Sequence[str] = ()
    change_list_template = "admin/csv_export_change_list.html"

    def export_rows(self, queryset) -> Iterable[Sequence[Any]]:
        raise NotImplementedError

    def export_queryset(self, queryset):
        return queryset

    def has_export_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and request.user.has_perm(self.export_permission)

    def get_urls(self):
        opts = self.model._meta
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name=f"{opts.app_label}_{opts.model_name}_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        if self.has_export_permission(request):
            opts = self.model._meta
            query = request.GET.urlencode()
            extra_context["csv_export_url"] = reverse(f"admin:{opts.app_label}_{opts.model_name}_export") + (f"?{query}" if query else "")
        return super().changelist_view(request, extra_context)

    def export_view(self, request):
        if not self.has_export_permission(request):
            raise PermissionDenied("Your role may not export this list.")
        opts = self.model._meta
        list_params = request.GET.copy()
        for name in RANGE_PARAMS:
            list_params.pop(name, None)
        form = ExportRangeForm(request.GET if "export" in request.GET else None)
        if not (form.is_bound and form.is_valid()):
            changelist_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            query = list_params.urlencode()
            return export_form_page(
                request, admin_site=self.admin_site, opts=opts, title=f"Export {opts.verbose_name_plural} as CSV",
                form=form, hidden=list_params.dict(), cancel_url=changelist_url + (f"?{query}" if query else ""),
            )
        # The list's own filters and search, exactly as the changelist applies them.
        request.GET = list_params
        changelist = self.get_changelist_instance(request)
        queryset = apply_range(changelist.get_queryset(request), self.export_date_field, form)
        filters = {**list_params.dict(), **form.as_filters()}
        export = data_export_start(kind=self.export_kind, user=request.user, filters=filters)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return stream_csv(
            export=export, filename=f"{self.export_kind}-{stamp}.csv", header=self.export_header,
            rows=self.export_rows(self.export_queryset(queryset).iterator(chunk_size=2000)),
        )


@admin.register(DataExport)
class DataExportAdmin(ReadOnlyAdmin):
    """The compliance record of exports: read-only for everyone, superusers included (it is evidence)."""

    list_display = ("started_at", "user", "kind", "rows", "completed_at", "filters_display")
    list_filter = ("kind", "started_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    date_hierarchy = "started_at"
    readonly_fields = ("kind", "user", "filters", "rows", "started_at", "completed_at")
    fields = readonly_fields

    @admin.display(description="filters")
    def filters_display(self, obj: DataExport) -> str:
        return ", ".join(f"{key}={value}" for key, value in sorted(obj.filters.items())) or "—"

