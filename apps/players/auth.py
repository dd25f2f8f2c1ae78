"""Login lock-out (django-axes): 5 failed logins for one email within the cool-off window lock that email.

django-axes records every failure in AccessAttempt / AccessFailureLog (visible in the admin, where an
operator can also unlock an email by deleting its AccessAttempt) and calls `lockout_response` for the answer.
"""

from __future__ import annotations

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


class _UsersWithPlayer:
    """Stands in for the user model in simplejwt's get_user: the same lookup, with the player joined."""

    def __init__(self, model):
        self.DoesNotExist = model.DoesNotExist
        self.objects = model.objects.select_related("player")


def _jwt_authentication_base():
    from rest_framework_simplejwt.authentication import JWTAuthentication

    return JWTAuthentication


class JWTAuthentication(_jwt_authentication_base()):
    """simplejwt's JWTAuthentication, reading the user and their player in one query.

    The user row is still read on every request, so a deactivated user or a changed password (the token's
    revocation claim) is refused at once; the player's status comes with it, read as committed now, and
    the money services re-read it under their lock anyway. A player endpoint then needs no second query
    for the player (apps.players.selectors.player_for_user uses the joined one).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_model = _UsersWithPlayer(self.user_model)


def _schema_extension_base():
    from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme

    return SimpleJWTScheme


class JWTScheme(_schema_extension_base()):
    """The OpenAPI security scheme of JWTAuthentication: the same bearer scheme (jwtAuth) as simplejwt's."""

    target_class = "apps.players.auth.JWTAuthentication"
