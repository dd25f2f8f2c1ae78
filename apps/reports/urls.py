from django.urls import path

from . import api

urlpatterns = [
    path("staff/reports/runs", api.ReportRunsApi.as_view(), name="staff-report-runs"),
    path("staff/reports/runs/<int:run_id>/file", api.ReportRunFileApi.as_view(), name="staff-report-run-file"),
]
