"""Player API for responsible gaming (API.md, "Responsible gaming").

Every player, even a self-excluded or suspended one, may read these and set protections: a tool
that protects the player must never be locked behind the account's status.
An unknown `{kind}` or `{period}` in a limit path is 404 not_found: the path names no resource.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import clock
from apps.core.api import MoneyField, error_response
from apps.core.errors import NotFound
from apps.players.selectors import player_required

from . import services
from .models import LimitKind, LimitPeriod
from .selectors import limit_view, protection_overview
from .services import (
    limit_confirm,
    limit_remove,
    limit_set,
    reality_check_acknowledge,
    reality_check_set,
    self_exclusion_reactivate,
    self_exclusion_start,
    timeout_start,
)

_TIMEOUT_SUMMARY = "Take a time-out ({} to {} hours); it cannot be lifted early".format(*services.TIMEOUT_HOURS)
_REALITY_CHECK_SUMMARY = "Set the reality-check interval ({} to {} minutes, null for off)".format(*services.REALITY_CHECK_MINUTES)


@extend_schema_field(OpenApiTypes.STR)
class Amount(MoneyField):
    """A decimal string in the player's wallet currency."""


def _player(request):
    return player_required(request.user, what="responsible-gaming settings")


# Every call here may be refused to a login without a player profile (staff); 401 and 429 are
# documented for all operations by apps.core.schema.
_NO_PLAYER = {403: error_response("permission_denied: this login has no player profile")}
_LIMIT_PATH = {404: error_response("not_found: no such kind or period (or no such limit to remove)")}
_LOOSENING_REFUSED = {403: error_response("self_excluded: no raise or removal during a time-out or self-exclusion; permission_denied")}

class LimitOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LimitKind.choices)
    period = serializers.ChoiceField(choices=LimitPeriod.choices)
    amount = Amount()
    currency = serializers.CharField()
    pending_amount = Amount(allow_null=True)
    pending_from = serializers.DateTimeField(allow_null=True)
    pending_removal = serializers.BooleanField()
    used = Amount()
    remaining = Amount()
    requested_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    confirmation_required = serializers.BooleanField(
        help_text="The pending raise or removal applies only once the player confirms it after pending_from (the market's rule)."
    )
    confirmation_lapses_at = serializers.DateTimeField(allow_null=True, help_text="An unconfirmed pending change lapses then.")


class OverviewOut(serializers.Serializer):
    limits = LimitOut(many=True)
    self_excluded_from = serializers.DateTimeField(allow_null=True)
    self_excluded_until = serializers.DateTimeField(allow_null=True, help_text="Empty while permanent or not excluded.")
    permanent_exclusion = serializers.BooleanField()
    timeout_until = serializers.DateTimeField(allow_null=True)
    reactivation_requested_at = serializers.DateTimeField(allow_null=True)
    reactivation_from = serializers.DateTimeField(allow_null=True, help_text="When a requested return from self-exclusion takes effect.")
    reality_check_minutes = serializers.IntegerField(allow_null=True)
    session_started_at = serializers.DateTimeField(allow_null=True)
    reality_check_due = serializers.BooleanField(
        help_text="A reminder is due: rounds and provider bets are refused (409 invalid_state) until "
        "POST /api/v1/responsible-gaming/reality-check/acknowledge (UKGC RTS 13)."
    )
    reality_check_next_at = serializers.DateTimeField(allow_null=True)
    session_elapsed_seconds = serializers.IntegerField(allow_null=True, help_text="Time since this session (login) started.")
    session_net_position = Amount(
        allow_null=True, help_text="Wins minus stakes since the session started (negative: a loss), in the wallet currency."
    )


def _overview(player) -> Response:
    return Response(OverviewOut(protection_overview(player=player)).data, status=200)


class ResponsibleGamingApi(APIView):
    @extend_schema(responses={200: OverviewOut, **_NO_PLAYER}, summary="The player's limits, exclusions and reality-check state")
    def get(self, request):
        return _overview(_player(request))


class LimitApi(APIView):
    @extend_schema_serializer(component_name="LimitIn")
    class Input(serializers.Serializer):
        amount = Amount()

    @staticmethod
    def _path(kind: str, period: str) -> None:
        if kind not in LimitKind.values or period not in LimitPeriod.values:
            raise NotFound(details={"kind": list(LimitKind.values), "period": list(LimitPeriod.values)})

    @staticmethod
    def _limit_response(player, limit) -> Response:
        return Response(LimitOut(limit_view(player=player, limit=limit, now=clock.now())).data, status=200)

    @extend_schema(
        request=Input,
        responses={200: LimitOut, 400: error_response("validation_error"), **_LOOSENING_REFUSED, **_LIMIT_PATH},
        summary="Set a limit: lower applies at once, higher after 24 hours",
    )
    def put(self, request, kind: str, period: str):
        self._path(kind, period)
        player = _player(request)
        data = self.Input(data=request.data, context={"currency": player.currency})
        data.is_valid(raise_exception=True)
        limit = limit_set(player=player, kind=kind, period=period, amount=data.validated_data["amount"])
        return self._limit_response(player, limit)

    @extend_schema(
        request=None,
        responses={200: LimitOut, **_LOOSENING_REFUSED, **_LIMIT_PATH},
        summary="Remove a limit after the 24-hour cooling-off",
    )
    def delete(self, request, kind: str, period: str):
        self._path(kind, period)
        player = _player(request)
        limit = limit_remove(player=player, kind=kind, period=period)
        return self._limit_response(player, limit)


class LimitConfirmApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: OverviewOut,
            409: error_response("invalid_state: nothing waiting for confirmation, or the cooling-off has not ended"),
            **_LOOSENING_REFUSED,
            **_LIMIT_PATH,
        },
        summary="Confirm a raise or removal after its cooling-off, where the market requires it (UKGC RTS 12)",
    )
    def post(self, request, kind: str, period: str):
        LimitApi._path(kind, period)
        player = _player(request)
        limit_confirm(player=player, kind=kind, period=period)
        return _overview(player)


class TimeoutApi(APIView):
    @extend_schema_serializer(component_name="TimeoutIn")
    class Input(serializers.Serializer):
        hours = serializers.IntegerField(min_value=services.TIMEOUT_HOURS[0], max_value=services.TIMEOUT_HOURS[1])

    @extend_schema(
        request=Input,
        responses={200: OverviewOut, 400: error_response("validation_error"), **_NO_PLAYER,
                   409: error_response("invalid_state: a time-out cannot be shortened")},
        summary=_TIMEOUT_SUMMARY,
    )
    def post(self, request):
        player = _player(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        timeout_start(player=player, hours=data.validated_data["hours"])
        return _overview(player)


class SelfExclusionApi(APIView):
    @extend_schema_serializer(component_name="SelfExclusionIn")
    class Input(serializers.Serializer):
        months = serializers.ChoiceField(choices=list(services.SELF_EXCLUSION_MONTHS), required=False, allow_null=True)
        permanent = serializers.BooleanField(required=False, default=False)

        def validate(self, attrs):
            if attrs.get("permanent") and attrs.get("months") is not None:
                raise serializers.ValidationError({"months": ["Give either months or permanent, not both."]})
            if not attrs.get("permanent") and attrs.get("months") is None:
                raise serializers.ValidationError({"months": ["Choose 6, 12 or 60 months, or permanent."]})
            return attrs

    @extend_schema(
        request=Input,
        responses={200: OverviewOut, 400: error_response("validation_error"), **_NO_PLAYER,
                   409: error_response("invalid_state: a self-exclusion cannot be shortened, or is permanent already")},
        summary="Self-exclude for 6, 12 or 60 months or permanently",
    )
    def post(self, request):
        player = _player(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        months = data.validated_data.get("months")
        self_exclusion_start(player=player, months=int(months) if months is not None else None, permanent=data.validated_data["permanent"])
        return _overview(player)


class RealityCheckApi(APIView):
    @extend_schema_serializer(component_name="RealityCheckIn")
    class Input(serializers.Serializer):
        minutes = serializers.IntegerField(
            min_value=services.REALITY_CHECK_MINUTES[0], max_value=services.REALITY_CHECK_MINUTES[1], allow_null=True
        )

    @extend_schema(
        request=Input,
        responses={200: OverviewOut, 400: error_response("validation_error"), **_NO_PLAYER},
        summary=_REALITY_CHECK_SUMMARY,
    )
    def post(self, request):
        player = _player(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        reality_check_set(player=player, minutes=data.validated_data["minutes"])
        return _overview(player)


class RealityCheckAcknowledgeApi(APIView):
    @extend_schema(request=None, responses={200: OverviewOut, **_NO_PLAYER}, summary="The player saw the reality check")
    def post(self, request):
        player = _player(request)
        reality_check_acknowledge(player=player)
        return _overview(player)


class ReactivateApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: OverviewOut,
            403: error_response("self_excluded: the self-exclusion has not ended yet, a national register bars the player "
                                 "(details reason legally_barred), or the person is self-excluded on another account "
                                 "(details reason identity_excluded); permission_denied"),
            409: error_response("invalid_state: not self-excluded, or no ended self-exclusion to return from "
                                "(or it was returned from already)"),
        },
        summary="Ask to return after a self-exclusion ended; the account reopens after a one-day cooling-off",
    )
    def post(self, request):
        player = _player(request)
        self_exclusion_reactivate(player=player)
        return _overview(player)
