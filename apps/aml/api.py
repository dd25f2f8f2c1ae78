"""Staff API for compliance (API.md, Staff API): the alert list and the alert transitions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import NewestFirstPagination, error_response

from . import selectors, services
from .models import AlertLevel, AlertStatus, AmlAlert, RuleKind

VIEW_PERMISSION = "aml.view_amlalert"


class CompliancePermission(BasePermission):
    """The admin's permissions, checked on the API too: a player's token (or an operator's) is 403 permission_denied."""

    perm = VIEW_PERMISSION

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff and user.has_perm(self.perm))


class WorkPermission(CompliancePermission):
    perm = services.WORK_PERMISSION


class AlertOut(serializers.ModelSerializer):
    player_id = serializers.IntegerField()
    rule = serializers.ChoiceField(choices=RuleKind.choices, help_text="The rule that opened the alert; every hit is in the evidence.")
    level = serializers.ChoiceField(choices=AlertLevel.choices)
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    evidence = serializers.JSONField(help_text="Frozen at detection: {hits: [{rule, score, key, detected_at, transaction_ids, ...}]}.")

    class Meta:
        model = AmlAlert
        fields = ["id", "player_id", "rule", "level", "score", "status", "evidence", "created_at"]


class AlertFilters(serializers.Serializer):
    player = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=AlertStatus.choices, required=False)
    level = serializers.ChoiceField(choices=AlertLevel.choices, required=False)


_403 = error_response("permission_denied: only the compliance role works AML alerts.")


class AlertListApi(ListAPIView):
    permission_classes = [CompliancePermission]
    serializer_class = AlertOut
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        filters = AlertFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return selectors.alerts(player_id=data.get("player"), status=data.get("status"), level=data.get("level"))

    @extend_schema(
        tags=["staff"], operation_id="staff_aml_alerts_list",
        parameters=[
            OpenApiParameter("player", int, description="A player's id."),
            OpenApiParameter("status", str, enum=AlertStatus.values),
            OpenApiParameter("level", str, enum=AlertLevel.values),
        ],
        responses={200: AlertOut(many=True), 400: error_response("validation_error: a bad filter."), 403: _403},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AlertTransitionApi(APIView):
    permission_classes = [WorkPermission]

    class Input(serializers.Serializer):
        action = serializers.ChoiceField(choices=list(services.TRANSITIONS))
        note = serializers.CharField(max_length=4000, help_text="Required on every transition.")
        sar_reference = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                              help_text="The suspicious activity report's reference; required to escalate.")
        sar_filed_on = serializers.DateField(required=False, help_text="When the report was filed (default today).")

    @extend_schema(
        tags=["staff"], operation_id="staff_aml_alert_transition", request=Input,
        responses={
            200: AlertOut, 400: error_response("validation_error: unknown action, no note, or no sar_reference to escalate."),
            403: _403, 404: error_response("not_found"), 409: error_response("invalid_state: the alert's state does not allow it."),
        },
    )
    def post(self, request, alert_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.alert_transition(alert_id=alert_id, actor=request.user, **data.validated_data)
        return Response(AlertOut(alert).data)
