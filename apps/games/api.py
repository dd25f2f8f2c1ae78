"""The games API for players (API.md "Games") and staff (API.md "Staff API": games stats and RTP).

Thin views: validate, call one service, render. A round is a money POST: it runs through core's
idempotent_response, so a retried request gets the first answer and moves nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import MoneyField, NewestFirstPagination, error_response, idempotent_response
from apps.core.api import idempotency_key as request_idempotency_key
from apps.core.errors import NotFound, PermissionDenied, ValidationFailed
from apps.core.money import MINOR_UNITS, format_amount
from apps.players.selectors import player_for_user, player_required

from . import selectors, services, stats
from .models import Game, Round, SessionStatus

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=True, description="1–64 printable ASCII characters; a retry reuses it."
)


def _player(request):
    return player_required(request.user, what="game sessions")


def _game(slug: str) -> Game:
    game = selectors.game_by_slug(slug)
    if game is None:
        raise NotFound("No such game.")
    return game


# --- outputs ---


class GameOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    provider = serializers.CharField(source="provider_code", help_text='"house" for in-house games.')
    provider_game_code = serializers.CharField()
    rtp = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    min_stake = serializers.SerializerMethodField()
    max_stake = serializers.SerializerMethodField()
    enabled = serializers.BooleanField()

    def _range(self, game: Game):
        return game.stake_range(self.context["currency"])

    @extend_schema_field({"type": "string", "nullable": True, "example": "0.10"})
    def get_min_stake(self, game: Game) -> str | None:
        found = self._range(game)
        return str(found[0]) if found else None

    @extend_schema_field({"type": "string", "nullable": True, "example": "100.00"})
    def get_max_stake(self, game: Game) -> str | None:
        found = self._range(game)
        return str(found[1]) if found else None


class SessionOut(serializers.Serializer):
    id = serializers.IntegerField()
    game = serializers.CharField(source="game.slug")
    server_seed_hash = serializers.CharField()
    client_seed = serializers.CharField()
    nonce = serializers.IntegerField(help_text="The next round's nonce.")
    rtp = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True, help_text="Fixed for the session's life.")
    status = serializers.CharField()


class SessionClosedOut(SessionOut):
    server_seed = serializers.CharField(help_text="Revealed now; SHA-256 of it is server_seed_hash.")


class RoundOut(serializers.Serializer):
    id = serializers.IntegerField()
    stake = serializers.CharField()
    payout = serializers.CharField()
    outcome = serializers.DictField()
    choices = serializers.DictField()
    nonce = serializers.IntegerField()
    rtp = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    balance = serializers.CharField(source="balance_after", help_text="The player's cash after this round.")
    server_seed_hash = serializers.CharField(source="session.server_seed_hash")
    client_seed = serializers.CharField(source="session.client_seed")
    server_seed = serializers.SerializerMethodField(help_text="Null until the session is closed; then the round can be verified.")
    created_at = serializers.DateTimeField()

    @extend_schema_field({"type": "string", "nullable": True})
    def get_server_seed(self, round_: Round) -> str | None:
        return round_.session.server_seed if round_.session.status == SessionStatus.CLOSED else None


class LaunchOut(serializers.Serializer):
    token = serializers.CharField()
    url = serializers.CharField()
    expires_at = serializers.DateTimeField()


# --- player views ---


class GamePagination(CursorPagination):
    page_size = 100
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "slug"


class GameListApi(generics.ListAPIView):
    serializer_class = GameOut
    pagination_class = GamePagination

    def get_queryset(self):
        return selectors.games_catalog()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        player = player_for_user(self.request.user)
        currency = player.currency if player else self.request.query_params.get("currency", "EUR")
        if currency not in MINOR_UNITS:
            raise ValidationFailed(details={"currency": ["Unknown currency."]})
        context["currency"] = currency
        return context

    @extend_schema(
        operation_id="games_list",
        parameters=[OpenApiParameter("currency", str, description="Staff only: the currency of min/max stake (players see theirs).")],
        responses={200: GameOut(many=True), 400: error_response("validation_error")},
        tags=["games"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SessionOpenIn(serializers.Serializer):
    client_seed = serializers.CharField(required=False, allow_blank=True, max_length=64, trim_whitespace=False)


class SessionOpenApi(APIView):
    @extend_schema(
        operation_id="games_session_open",
        request=SessionOpenIn,
        responses={
            201: SessionOut,
            400: error_response("validation_error (client_seed; game not offered in the wallet currency)"),
            403: error_response("self_excluded, account_blocked, permission_denied, kyc_required"),
            404: error_response("not_found (no in-house game with this slug)"),
            409: error_response("invalid_state (the game is disabled)"),
        },
        tags=["games"],
    )
    def post(self, request, slug: str):
        player = _player(request)
        data = SessionOpenIn(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_open(player=player, game=_game(slug), client_seed=data.validated_data.get("client_seed"))
        return Response(SessionOut(session).data, status=201)


class RoundIn(serializers.Serializer):
    stake = MoneyField()


class _RoundPlayMixin:
    """POST on the rounds path plays one; GET (SessionRoundsApi) lists them."""

    @extend_schema(
        operation_id="games_round_play",
        request=inline_serializer(
            "RoundIn",
            {
                "stake": MoneyField(),
                "target": serializers.CharField(required=False, help_text='Dice: "50.00" by default.'),
                "direction": serializers.ChoiceField(choices=["under", "over"], required=False, help_text="Dice."),
                "bet": serializers.CharField(
                    required=False, help_text="Roulette: straight, red (default), black, odd, even, low, high, dozen, column."
                ),
                "number": serializers.IntegerField(required=False, help_text="Roulette: the number, dozen or column."),
            },
        ),
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: RoundOut,
            400: error_response("validation_error"),
            403: error_response(
                "self_excluded, account_blocked, permission_denied, kyc_required (the market's verification or due diligence)"
            ),
            404: error_response("not_found (no such session of this player)"),
            409: error_response("invalid_state (session closed; a reality check is due: acknowledge it), idempotency_conflict"),
            422: error_response(
                "stake_out_of_range (the game's range, or the market's slot cap by age), insufficient_funds, limit_exceeded"
            ),
        },
        tags=["games"],
    )
    def post(self, request, session_id: int):
        player = _player(request)
        if not isinstance(request.data, dict):
            raise ValidationFailed("Send a JSON object.")
        serializer = RoundIn(data=request.data, context={"currency": player.currency})
        serializer.is_valid(raise_exception=True)
        choices = {k: v for k, v in request.data.items() if k != "stake"}
        key = request_idempotency_key(request)

        def action() -> tuple[int, dict]:
            round_ = services.round_play(
                player=player, session_id=session_id, stake=serializer.validated_data["stake"], choices=choices, idempotency_key=key
            )
            return 201, _round_body(round_)

        return idempotent_response(request, scope=f"player:{player.pk}", action=action)


_RTP_FIELD = RoundOut().fields["rtp"]
_CREATED_AT_FIELD = RoundOut().fields["created_at"]


def _round_body(round_: Round) -> dict:
    """RoundOut's representation of a played round, built directly: every round's answer is this body, and
    instantiating the serializer cost more CPU than the round's own outcome. The same fields in the same order
    and format (the decimal and datetime fields are RoundOut's own); test_api pins it to RoundOut's output."""
    session = round_.session
    return {
        "id": round_.pk,
        "stake": str(round_.stake),
        "payout": str(round_.payout),
        "outcome": {str(key): value for key, value in round_.outcome.items()},
        "choices": {str(key): value for key, value in round_.choices.items()},
        "nonce": int(round_.nonce),
        "rtp": _RTP_FIELD.to_representation(round_.rtp),
        "balance": str(round_.balance_after),
        "server_seed_hash": str(session.server_seed_hash),
        "client_seed": str(session.client_seed),
        "server_seed": session.server_seed if session.status == SessionStatus.CLOSED else None,
        "created_at": _CREATED_AT_FIELD.to_representation(round_.created_at),
    }


class SessionCloseApi(APIView):
    @extend_schema(
        operation_id="games_session_close",
        request=None,
        responses={200: SessionClosedOut, 403: error_response("permission_denied"), 404: error_response("not_found"),
                   409: error_response("invalid_state (already closed)")},
        tags=["games"],
    )
    def post(self, request, session_id: int):
        session = services.session_close(player=_player(request), session_id=session_id)
        return Response(SessionClosedOut(session).data)


class SessionRoundsApi(_RoundPlayMixin, generics.ListAPIView):
    serializer_class = RoundOut
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        session = selectors.session_for_player(player=_player(self.request), session_id=self.kwargs["session_id"])
        if session is None:
            raise NotFound("No such game session.")
        return selectors.session_rounds(session=session)

    @extend_schema(
        operation_id="games_session_rounds",
        responses={200: RoundOut(many=True), 403: error_response("permission_denied"), 404: error_response("not_found")},
        tags=["games"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class LaunchApi(APIView):
    @extend_schema(
        operation_id="games_launch",
        request=None,
        responses={
            201: LaunchOut,
            400: error_response("validation_error (not offered in the wallet currency)"),
            403: error_response("self_excluded, account_blocked, permission_denied, kyc_required"),
            404: error_response("not_found (no provider game with this slug)"),
            409: error_response("invalid_state (game or provider disabled)"),
        },
        tags=["games"],
    )
    def post(self, request, slug: str):
        token = services.launch_create(player=_player(request), game=_game(slug))
        return Response({"token": token.token, "url": services.launch_url(token), "expires_at": token.expires_at}, status=201)


# --- staff views ---


def _staff(request, permission: str) -> None:
    """The admin's role permissions, for the staff API (API.md): a player's token gets 403."""
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm(permission)):
        raise PermissionDenied()


def _day(raw: str | None, name: str, default: date) -> date:
    if raw is None or raw == "":
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(details={name: ["Use YYYY-MM-DD."]}) from None


class StatsOut(serializers.Serializer):
    slug = serializers.CharField()
    currency = serializers.CharField()
    rounds = serializers.IntegerField()
    turnover = serializers.CharField()
    payouts = serializers.CharField()
    ggr = serializers.CharField()
    rtp_target = serializers.CharField()
    rtp_actual = serializers.CharField(allow_null=True)
    flagged_days = serializers.IntegerField(help_text="Days the RTP monitor flagged in the range.")


class StaffGameStatsApi(APIView):
    @extend_schema(
        operation_id="staff_games_stats",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First UTC day (default: 30 days ago)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last UTC day, inclusive (default: today)."),
        ],
        responses={200: StatsOut(many=True), 400: error_response("validation_error"), 403: error_response("permission_denied")},
        tags=["staff"],
    )
    def get(self, request):
        _staff(request, stats.STATS_PERMISSION)
        today = stats.today()
        day_to = _day(request.query_params.get("to"), "to", today)
        day_from = _day(request.query_params.get("from"), "from", day_to - timedelta(days=30))
        if day_from > day_to or (day_to - day_from).days > 366:
            raise ValidationFailed(details={"from": ["from must be on or before to, at most a year apart."]})
        rows = stats.stats_between(day_from=day_from, day_to=day_to)
        return Response(
            [
                {
                    "slug": row.slug,
                    "currency": row.currency,
                    "rounds": row.rounds,
                    "turnover": format_amount(row.turnover_minor, row.currency),
                    "payouts": format_amount(row.payouts_minor, row.currency),
                    "ggr": format_amount(row.turnover_minor - row.payouts_minor, row.currency),
                    "rtp_target": f"{row.rtp_target:.2f}",
                    "rtp_actual": None if row.rtp_actual is None else f"{row.rtp_actual:.2f}",
                    "flagged_days": row.flagged_days,
                }
                for row in rows
            ]
        )


class RtpIn(serializers.Serializer):
    rtp = serializers.JSONField(help_text='Decimal string, e.g. "96.00".')
    reason = serializers.CharField(required=False, max_length=500, help_text="Kept in the game's history.")


class StaffGameRtpApi(APIView):
    @extend_schema(
        operation_id="staff_games_rtp_set",
        request=inline_serializer("StaffRtpIn", {"rtp": serializers.CharField(), "reason": serializers.CharField(required=False)}),
        responses={200: GameOut, 400: error_response("validation_error (outside 80.00–99.00 or not certified)"),
                   403: error_response("permission_denied"), 404: error_response("not_found")},
        tags=["staff"],
    )
    def put(self, request, slug: str):
        _staff(request, services_rtp_permission())
        data = RtpIn(data=request.data)
        data.is_valid(raise_exception=True)
        game = _game(slug)
        rtp = services.parse_rtp(data.validated_data["rtp"])
        reason = data.validated_data.get("reason") or "Set through the staff API"
        game = services.game_rtp_set(game=game, rtp=rtp, actor=request.user, reason=reason)
        return Response(GameOut(game, context={"currency": request.query_params.get("currency", "EUR")}).data)


def services_rtp_permission() -> str:
    return "games.change_game_rtp"
