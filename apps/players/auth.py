"""Login lock-out (django-axes): 5 failed logins for one email within the cool-off window lock that email.

django-axes records every failure in AccessAttempt / AccessFailureLog (visible in the admin, where an
operator can also unlock an email by deleting its AccessAttempt) and calls `lockout_response` for the answer.
"""

from __future__ import annotations

import functools
import math
from datetime import timedelta

from django.http import HttpResponse, JsonResponse

from apps.core import clock


def _cool_off(request=None) -> timedelta:
    from axes.helpers import get_cool_off

    return get_cool_off(request) or timedelta(minutes=15)


def lockout_retry_after(*, username: str | None, request=None) -> int:
    """Seconds until the email may try again: the cool-off runs from its latest recorded failure."""
    from axes.models import AccessAttempt
    from django.db.models import Max

    cool_off = _cool_off(request)
    latest = None
    if username:
        latest = AccessAttempt.objects.filter(username=username).aggregate(latest=Max("attempt_time"))["latest"]
    if latest is None:
        return max(1, math.ceil(cool_off.total_seconds()))
    remaining = (latest + cool_off - clock.now()).total_seconds()
    return max(1, math.ceil(remaining))


def lockout_response(request, original_response=None, credentials=None, *args, **kwargs) -> HttpResponse:
    """API.md's 429 `rate_limited` with Retry-After; the admin login gets the same status as plain text.

    django-axes calls this (request, original_response, credentials) from its middleware,
    falling back to (request, credentials) for old signatures; both are accepted.
    """
    from axes.helpers import get_client_username

    if credentials is None and isinstance(original_response, dict):
        credentials, original_response = original_response, None
    username = get_client_username(request, credentials) if credentials else None
    retry_after = lockout_retry_after(username=username, request=request)
    message = "Too many failed logins for this email; try again later."
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "rate_limited", "message": message, "details": {"retry_after": retry_after}}},
            status=429,
        )
    else:
        # The admin login: the shell's sign-in layout, saying why and for how long, with the way back.
        from django.conf import settings
        from django.contrib import admin
        from django.template.loader import render_to_string

        minutes = max(1, math.ceil(retry_after / 60))
        context = {
            **admin.site.each_context(request),
            "title": "Sign-in locked", "minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cool_off_minutes": math.ceil(_cool_off(request).total_seconds() / 60), "login_url": request.path,
        }
        response = HttpResponse(render_to_string("admin/lockout.html", context, request=request), status=429)
    response["Retry-After"] = str(retry_after)
    return response


class _PreparedUserLookup:
    """`objects.get(id=...)` as simplejwt's get_user calls it, from a query compiled once (apps.core.prepared)."""

    def __init__(self, model):
        from apps.core.prepared import PreparedQuery

        self.model = model
        self.query = PreparedQuery(lambda user_id: model.objects.select_related("player").filter(pk=user_id), ints=("user_id",))

    def get(self, **lookup):
        (field, value), = lookup.items()
        if field not in ("id", "pk"):  # simplejwt's USER_ID_FIELD is ours to set; anything else takes the ORM
            return self.model.objects.select_related("player").get(**lookup)
        try:
            # The claim as issued is an int; a string of digits is accepted as the ORM would, nothing else.
            user_id = value if type(value) is int else int(str(value))
        except (TypeError, ValueError):
            raise self.model.DoesNotExist from None
        user = self.query.first(user_id=user_id)
        if user is None:
            raise self.model.DoesNotExist
        return user


class _UsersWithPlayer:
    """Stands in for the user model in simplejwt's get_user: the same lookup, with the player joined."""

    def __init__(self, model):
        self.DoesNotExist = model.DoesNotExist
        self.objects = _PreparedUserLookup(model)


def _jwt_authentication_base():
    from rest_framework_simplejwt.authentication import JWTAuthentication

    return JWTAuthentication


@functools.lru_cache(maxsize=20_000)
def _verified_access_payload(raw_token: bytes) -> dict:
    """The payload of an access token that passed simplejwt's full verification once (signature, type, jti, expiry).

    Only successes are cached (an exception is never cached), keyed on the exact bytes: the same bytes verify the
    same way until they expire, which the caller re-checks on every use. Verifying costs more CPU than the
    rest of authentication (pyjwt checks the base64 alphabet character by character).
    """
    from rest_framework_simplejwt.tokens import AccessToken

    return dict(AccessToken(raw_token).payload)


def verified_access_token(raw_token: bytes):
    """The access token for these bytes if it verifies and has not expired, else None (simplejwt's own path then says why).

    Verification is cached (_verified_access_payload); expiry is checked on every use. JWTAuthentication and the
    wallet's event-loop path (apps.payments.fast_wallet) both authenticate through this.
    """
    from rest_framework_simplejwt.exceptions import TokenError
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import AccessToken
    from rest_framework_simplejwt.utils import aware_utcnow

    if tuple(api_settings.AUTH_TOKEN_CLASSES) != (AccessToken,):
        return None
    try:
        payload = _verified_access_payload(bytes(raw_token))
        token = AccessToken.__new__(AccessToken)
        token.token, token.current_time, token.payload = raw_token, aware_utcnow(), dict(payload)
        token.check_exp()  # an expired token is refused even if it verified before
    except TokenError:
        return None
    return token


class JWTAuthentication(_jwt_authentication_base()):
    """simplejwt's JWTAuthentication, reading the user and their player in one query.

    The user row is still read on every request, so a deactivated user is refused at once. A password changed
    in the admin (players have no password-change endpoint) does not end access tokens already issued: simplejwt's
    CHECK_REVOKE_TOKEN is off, and they expire within ACCESS_TOKEN_LIFETIME. The player's status comes with it, read as committed now, and
    the money services re-read it under their lock anyway. A player endpoint then needs no second query
    for the player (apps.players.selectors.player_for_user uses the joined one).
    """

    _users: _UsersWithPlayer | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # DRF builds an authenticator per request; the compiled lookup is built once per process.
        if JWTAuthentication._users is None:
            JWTAuthentication._users = _UsersWithPlayer(self.user_model)
        self.user_model = JWTAuthentication._users

    def get_validated_token(self, raw_token: bytes):
        token = verified_access_token(raw_token)
        if token is not None:
            return token
        return super().get_validated_token(raw_token)


def _schema_extension_base():
    from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme

    return SimpleJWTScheme


class JWTScheme(_schema_extension_base()):
    """The OpenAPI security scheme of JWTAuthentication: the same bearer scheme (jwtAuth) as simplejwt's."""

    target_class = "apps.players.auth.JWTAuthentication"
