"""Players and auth API (API.md): register, JWT login/refresh/logout, and the player's own profile.

Decisions beyond API.md:
- logout needs only the refresh token in the body (no access token): the access token may
  already have expired when the player logs out, and holding the refresh token proves the session.
  An unknown or already-used refresh token is 401 `token_invalid`, as on refresh.
- Access tokens are stateless and live JWT_ACCESS_MINUTES (15 by default) after logout or closure;
  refresh tokens stop working at once.
- A login without a player profile (staff) gets tokens but GET /me answers 404 `not_found`.
"""

from __future__ import annotations

from django.contrib.auth import authenticate, user_logged_in
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import error_response
from apps.core.errors import InvalidCredentials, NotFound, RateLimited
from apps.core.http import client_ip
from apps.core.throttling import AnonRateThrottle, ScopedRateThrottle

from .auth import lockout_retry_after
from .models import Device
from .selectors import player_for_user
from .serializers import (
    CredentialsInputSerializer,
    PlayerSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenPairSerializer,
)
from .services import auth_logout, auth_token_refresh, auth_tokens_issue, player_register


def _error(description: str) -> OpenApiResponse:
    return error_response(description)


class _AnonymousAuthApi(APIView):
    """Endpoints a player calls before (or instead of) holding an access token.

    No authentication classes, so a stale access token in the header cannot turn a
    login or logout into a 401.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]


class RegisterApi(_AnonymousAuthApi):
    throttle_classes = [AnonRateThrottle, ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        operation_id="auth_register",
        tags=["auth"],
        request=RegisterInputSerializer,
        parameters=[
            OpenApiParameter(
                "X-Device-Type", str, OpenApiParameter.HEADER, required=False, enum=list(Device.values),
                description="Device class, if the body has no signup_device.",
            )
        ],
        responses={
            201: PlayerSerializer,
            400: _error("validation_error, underage or country_blocked"),
            409: _error("email_taken"),
            429: _error("rate_limited"),
        },
    )
    def post(self, request):
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        header_device = request.headers.get("X-Device-Type", "").upper()
        fields.setdefault("signup_device", header_device if header_device in Device.values else "")
        player = player_register(**fields, signup_ip=client_ip(request))
        return Response(PlayerSerializer(player).data, status=201)


class TokenObtainApi(_AnonymousAuthApi):
    throttle_classes = [AnonRateThrottle, ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        operation_id="auth_token",
        tags=["auth"],
        request=CredentialsInputSerializer,
        responses={
            200: TokenPairSerializer,
            400: _error("validation_error"),
            401: _error("invalid_credentials"),
            403: _error("account_blocked (closed account)"),
            429: _error("rate_limited: 5 failed logins for this email within 15 minutes; see Retry-After"),
        },
    )
    def post(self, request):
        data = CredentialsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        # django-axes reads the lock-out state from, and records failures on, the Django request;
        # the AxesStandaloneBackend refuses a locked email before the password is even checked.
        django_request = request._request
        axes_context: dict = {}
        user = authenticate(django_request, email=email, password=data.validated_data["password"], response_context=axes_context)
        if user is None:
            if "error" in axes_context:
                # The backend refused a locked email without looking at the password.
                raise RateLimited(retry_after=lockout_retry_after(username=email, request=django_request))
            # A wrong password, even the one that reaches the limit, is answered as such: API.md
            # locks *after* 5 failures, so the 6th attempt is the first 429. axes has recorded the lock.
            django_request.axes_locked_out = False
            raise InvalidCredentials()
        pair = auth_tokens_issue(user=user)
        # What django.contrib.auth.login() would send: records the login (axes AccessLog,
        # last_login) and clears the email's failure count (AXES_RESET_ON_SUCCESS).
        user_logged_in.send(sender=user.__class__, request=django_request, user=user)
        return Response(TokenPairSerializer(pair).data, status=200)


class TokenRefreshApi(_AnonymousAuthApi):
    @extend_schema(
        operation_id="auth_token_refresh",
        tags=["auth"],
        request=RefreshInputSerializer,
        responses={
            200: TokenPairSerializer,
            400: _error("validation_error"),
            401: _error("token_invalid: expired, malformed or already used"),
            403: _error("account_blocked (closed account)"),
        },
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = auth_token_refresh(refresh=data.validated_data["refresh"])
        return Response(TokenPairSerializer(pair).data, status=200)


class LogoutApi(_AnonymousAuthApi):
    @extend_schema(
        operation_id="auth_logout",
        tags=["auth"],
        request=RefreshInputSerializer,
        responses={
            204: OpenApiResponse(description="The refresh token is revoked."),
            400: _error("validation_error"),
            401: _error("token_invalid"),
        },
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth_logout(refresh=data.validated_data["refresh"])
        return Response(status=204)


class MeApi(APIView):
    @extend_schema(
        operation_id="me",
        tags=["players"],
        responses={
            200: PlayerSerializer,
            401: _error("not_authenticated or token_invalid"),
            404: _error("not_found: this login has no player profile (staff)"),
        },
    )
    def get(self, request):
        player = player_for_user(request.user)
        if player is None:
            raise NotFound("This login has no player profile.")
        return Response(PlayerSerializer(player).data)
