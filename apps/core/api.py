"""Base API pieces every app uses: the error shape, money fields, pagination, idempotency."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from . import errors
from .money import Money, MoneyError, parse_amount
from .services import idempotent_call, request_fingerprint

logger = logging.getLogger(__name__)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorSerializer(serializers.Serializer):
    """The one error envelope of API.md, for the OpenAPI schema of every app."""

    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "Error"


def error_response(description: str) -> OpenApiResponse:
    """An OpenAPI response documenting the error envelope with the codes a view can answer."""
    return OpenApiResponse(response=ErrorSerializer, description=description)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def _flatten(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _flatten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_flatten(v) for v in value]
    return str(value)


TOO_LARGE_MESSAGE = "The request body is too large."

# The database went away mid-request (connection killed, server restarting, failover): not the client's
# fault and not a bug. The request's transaction is rolled back with the connection, and Django closes
# the broken connection when the request ends (close_old_connections: errors_occurred, then is_usable),
# so the next request reconnects.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def service_unavailable_response(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    logger.warning("Database unavailable mid-request: %s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
    unavailable = errors.ServiceUnavailable()
    headers = {"Retry-After": str(unavailable.retry_after)}
    return unavailable.status_code, error_body(unavailable.code, unavailable.message, {"retry_after": unavailable.retry_after}), headers


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Map every error to {"error": {code, message, details}} with the status API.md gives it."""
    headers: dict[str, str] = {}
    if isinstance(exc, errors.DomainError):
        status, body = exc.status_code, error_body(exc.code, exc.message, exc.details)
        if isinstance(exc, errors.RateLimited | errors.ServiceUnavailable):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, DATABASE_UNAVAILABLE):
        status, body, headers = service_unavailable_response(exc)
    elif isinstance(exc, drf_exceptions.ValidationError):
        status, body = 400, error_body("validation_error", "Some fields are not valid.", _validation_details(exc.detail))
    elif isinstance(exc, RequestDataTooBig):
        status, body = 400, error_body("validation_error", TOO_LARGE_MESSAGE, {"body": [TOO_LARGE_MESSAGE]})
    elif isinstance(exc, SuspiciousOperation):
        status, body = 400, error_body("validation_error", "The request is malformed.")
    elif isinstance(exc, drf_exceptions.ParseError):
        status, body = 400, error_body("validation_error", str(exc.detail))
    elif isinstance(exc, InvalidToken | TokenError):
        status, body = 401, error_body("token_invalid", errors.TokenInvalid.default_message)
    elif isinstance(exc, drf_exceptions.NotAuthenticated):
        status, body = 401, error_body("not_authenticated", str(exc.detail))
    elif isinstance(exc, drf_exceptions.AuthenticationFailed):
        status, body = 401, error_body("token_invalid", str(exc.detail))
    elif isinstance(exc, drf_exceptions.PermissionDenied | DjangoPermissionDenied):
        status, body = 403, error_body("permission_denied", errors.PermissionDenied.default_message)
    elif isinstance(exc, drf_exceptions.NotFound | Http404):
        status, body = 404, error_body("not_found", "Not found.")
    elif isinstance(exc, drf_exceptions.Throttled):
        wait = int(exc.wait or 1)
        headers["Retry-After"] = str(wait)
        status, body = 429, error_body("rate_limited", "Too many requests; try again later.", {"retry_after": wait})
    elif isinstance(exc, drf_exceptions.APIException):
        status, body = exc.status_code, error_body(str(exc.default_code), str(exc.detail))
    else:
        return None
    set_rollback()
    return Response(body, status=status, headers=headers)


@csrf_exempt
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """JSON 404 for any unknown path under /api/, whatever the method (no CSRF page for API clients)."""
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)


def api_bad_request(request, exception=None, *args, **kwargs):
    """handler400: a request Django refuses before any view (e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE)
    gets the error shape under /api/ instead of Django's HTML page; the admin keeps Django's page."""
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse(error_body("validation_error", TOO_LARGE_MESSAGE, {"body": [TOO_LARGE_MESSAGE]}), status=400)
        return JsonResponse(error_body("validation_error", "The request is malformed."), status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def api_server_error(request, *args, **kwargs):
    """JSON for API clients; the admin keeps Django's own error page.

    A database outage raised outside a DRF view (a middleware's query) is a 503 here as in the views' handler.
    """
    if request.path.startswith("/api/"):
        exc = sys.exc_info()[1]
        if isinstance(exc, DATABASE_UNAVAILABLE):
            status, body, headers = service_unavailable_response(exc)
            return JsonResponse(body, status=status, headers=headers)
        return JsonResponse(error_body("internal_error", "Something went wrong on our side; nothing was changed."), status=500)
    from django.views.defaults import server_error

    return server_error(request)


@extend_schema_field({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "example": "10.00"})
class MoneyField(serializers.Field):
    """A money amount as a plain decimal string in the currency taken from the serializer context."""

    default_error_messages = {"invalid": "{message}"}

    def __init__(self, *, allow_zero: bool = False, currency_field: str | None = None, **kwargs: Any) -> None:
        self.allow_zero = allow_zero
        self.currency_field = currency_field
        super().__init__(**kwargs)

    def _currency(self) -> str:
        if self.currency_field and isinstance(self.parent.initial_data, dict):
            currency = self.parent.initial_data.get(self.currency_field)
            if isinstance(currency, str):
                return currency
        return self.context["currency"]

    def to_internal_value(self, data: Any) -> Money:
        try:
            return parse_amount(data, self._currency(), positive=not self.allow_zero)
        except MoneyError as exc:
            self.fail("invalid", message=str(exc))

    def to_representation(self, value: Money) -> str:
        return str(value)


class NewestFirstPagination(CursorPagination):
    """Newest first by id. A cursor is client input: one whose position is not an id is a 404, as DRF
    answers any other invalid cursor (a position like "x" used to reach the database and answer 500)."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                position = int(cursor.position)
            except (TypeError, ValueError):
                raise drf_exceptions.NotFound(self.invalid_cursor_message) from None
            if not -(2**63) <= position < 2**63:
                raise drf_exceptions.NotFound(self.invalid_cursor_message)
        return cursor


_KEY_RE = re.compile(r"^[\x21-\x7e]{1,64}$")


def idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise errors.ValidationFailed(details={"Idempotency-Key": ["This header is required for money requests."]})
    if not _KEY_RE.match(key):
        raise errors.ValidationFailed(details={"Idempotency-Key": ["Use 1 to 64 printable ASCII characters."]})
    return key


def idempotent_response(request, *, scope: str, action: Callable[[], tuple[int, Any]]) -> Response:
    """Answer a money POST once per Idempotency-Key; identical retries get the identical answer."""
    key = idempotency_key(request)
    fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.data)
    user = request.user if getattr(request.user, "is_authenticated", False) else None
    status_code, body = idempotent_call(scope=scope, key=key, fingerprint=fingerprint, action=action, user=user)
    return Response(body, status=status_code)
