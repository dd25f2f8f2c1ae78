"""Staff API: report runs (API.md, Staff API). Compliance only; a player's token gets 403 permission_denied."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import NewestFirstPagination, error_response
from apps.core.errors import InvalidState, NotFound

from . import types  # noqa: F401  (fills the registry before the choices below are read)
from .models import RunStatus
from .registry import REGISTRY
from .selectors import report_runs
from .services import report_run_request

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xml": "application/xml"}


class HasPermission(BasePermission):
    """The admin's role permission decides, so the API and the admin can never disagree on who may."""

    perm = ""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm(self.perm))


class CanViewRuns(HasPermission):
    perm = "reports.view_reportrun"


class CanRequestRuns(HasPermission):
    perm = "reports.request_reportrun"


class CanDownloadRuns(HasPermission):
    perm = "reports.download_reportrun"


class ReportRunOut(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField(source="report_type")
    period = serializers.CharField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    rows = serializers.IntegerField()
    sha256 = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class ReportRunCreatedOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RunStatus.choices)


class ReportRunIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=sorted(REGISTRY))
    period = serializers.CharField(max_length=10, help_text="YYYY-MM-DD (daily), YYYY-MM (monthly) or YYYY-Qn (quarterly).")


class ReportRunsApi(generics.GenericAPIView):
    serializer_class = ReportRunOut
    pagination_class = NewestFirstPagination

    def get_permissions(self):
        return [CanRequestRuns()] if self.request.method == "POST" else [CanViewRuns()]

    def get_queryset(self):
        return report_runs()

    @extend_schema(
        operation_id="staff_report_runs_list",
        tags=["staff"],
        responses={200: ReportRunOut(many=True), 401: error_response("not_authenticated"), 403: error_response("permission_denied")},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ReportRunOut(page, many=True).data)

    @extend_schema(
        operation_id="staff_report_runs_create",
        tags=["staff"],
        request=ReportRunIn,
        responses={
            202: ReportRunCreatedOut,
            400: error_response("validation_error: unknown type or a period not in the type's format"),
            401: error_response("not_authenticated"),
            403: error_response("permission_denied"),
        },
    )
    def post(self, request):
        data = ReportRunIn(data=request.data)
        data.is_valid(raise_exception=True)
        run = report_run_request(
            report_type=data.validated_data["type"], period=data.validated_data["period"], requested_by=request.user
        )
        return Response(ReportRunCreatedOut(run).data, status=202)


class ReportRunFileApi(APIView):
    permission_classes = [CanDownloadRuns]

    @extend_schema(
        operation_id="staff_report_run_file",
        tags=["staff"],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file."),
            (200, "application/xml"): OpenApiResponse(OpenApiTypes.BINARY, description="The XML file."),
            401: error_response("not_authenticated"),
            403: error_response("permission_denied"),
            404: error_response("not_found"),
            409: error_response("invalid_state: the run is not done"),
        },
    )
    def get(self, request, run_id: int):
        run = report_runs().filter(pk=run_id).first()
        if run is None:
            raise NotFound("No such report run.")
        if run.status != RunStatus.DONE:
            raise InvalidState("The file exists once the run is done.")
        try:
            handle = run.file.open("rb")
        except FileNotFoundError:
            raise NotFound("The file is missing from storage.") from None
        fmt = REGISTRY[run.report_type].fmt
        response = FileResponse(handle, content_type=CONTENT_TYPES[fmt], as_attachment=True, filename=run.file_name)
        response["X-Content-SHA256"] = run.sha256
        response["Cache-Control"] = "private, no-store"
        return response
