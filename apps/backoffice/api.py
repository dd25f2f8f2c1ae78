"""The staff API's cross-app views (API.md, "Staff API"): the back-office's own integrations read what the admin shows."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission

from apps.core.api import NewestFirstPagination, error_response
from apps.kyc.models import KycState
from apps.kyc.selectors import annotate_kyc_status
from apps.players.models import Player, PlayerStatus
from apps.players.selectors import player_search

STAFF_ROLES = ("operator", "compliance", "support")
VIEW_PLAYERS_PERMISSION = "players.view_player"


class StaffPermission(BasePermission):
    """The admin's own permission, checked on the API too: every staff role reads players; a player's token is 403."""

    perm = VIEW_PLAYERS_PERMISSION

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff and user.has_perm(self.perm))


class StaffPlayerOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", help_text="The player's id, as GET /me gives it.")
    email = serializers.EmailField(source="user.email")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    status = serializers.ChoiceField(choices=PlayerStatus.choices)
    kyc_status = serializers.ChoiceField(choices=KycState.choices)

    class Meta:
        model = Player
        fields = ["id", "email", "first_name", "last_name", "country", "status", "kyc_status", "created_at"]


class StaffPlayerFilters(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200, trim_whitespace=True)


class StaffPlayerListApi(ListAPIView):
    permission_classes = [StaffPermission]
    serializer_class = StaffPlayerOut
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        filters = StaffPlayerFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        players = annotate_kyc_status(Player.objects.select_related("user"))
        return player_search(players, filters.validated_data.get("search", ""))

    @extend_schema(
        tags=["staff"], operation_id="staff_players_list",
        parameters=[
            OpenApiParameter(
                "search", str,
                description="Part of an email or of the name (accents and case ignored), a phone number as written, "
                            "the player's id (UUID) or internal number.",
            ),
        ],
        responses={
            200: StaffPlayerOut(many=True),
            400: error_response("validation_error: a search term over 200 characters."),
            401: error_response("not_authenticated or token_invalid"),
            403: error_response("permission_denied: not a staff login (a player's token), or a role without players.view_player."),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
