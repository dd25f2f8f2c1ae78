"""The one error shape: every domain and framework error maps to API.md's code and status."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken

from apps.core import errors
from apps.core.api import api_server_error, exception_handler

API_MD_TABLE = [
    (errors.ValidationFailed, 400, "validation_error"),
    (errors.Underage, 400, "underage"),
    (errors.CountryBlocked, 400, "country_blocked"),
    (errors.NotAuthenticated, 401, "not_authenticated"),
    (errors.InvalidCredentials, 401, "invalid_credentials"),
    (errors.TokenInvalid, 401, "token_invalid"),
    (errors.AccountBlocked, 403, "account_blocked"),
    (errors.SelfExcluded, 403, "self_excluded"),
    (errors.KycRequired, 403, "kyc_required"),
    (errors.AccountUnderReview, 403, "account_under_review"),
    (errors.PermissionDenied, 403, "permission_denied"),
    (errors.MarketRestricted, 403, "market_restricted"),
    (errors.NotFound, 404, "not_found"),
    (errors.IdempotencyConflict, 409, "idempotency_conflict"),
    (errors.EmailTaken, 409, "email_taken"),
    (errors.InvalidState, 409, "invalid_state"),
    (errors.InsufficientFunds, 422, "insufficient_funds"),
    (errors.LimitExceeded, 422, "limit_exceeded"),
    (errors.StakeOutOfRange, 422, "stake_out_of_range"),
    (errors.ServiceUnavailable, 503, "service_unavailable"),
]


def raising(exc: Exception):
    class Boom(APIView):
        authentication_classes: list = []
        permission_classes = [AllowAny]

        def get(self, request):
            raise exc

    return Boom.as_view()(APIRequestFactory().get("/api/v1/boom"))


@pytest.mark.parametrize(("cls", "status", "code"), API_MD_TABLE)
def test_domain_errors_render_api_md_code_and_status(cls, status, code):
    response = raising(cls(details={"field": ["why"]}))
    assert response.status_code == status
    assert response.data == {"error": {"code": code, "message": cls.default_message, "details": {"field": ["why"]}}}


def test_every_domain_error_class_is_in_the_table():
    covered = {cls for cls, _status, _code in API_MD_TABLE} | {errors.RateLimited, errors.DomainError}
    assert set(errors.DomainError.__subclasses__()) <= covered


def test_custom_message_is_kept():
    response = raising(errors.InvalidState("Cannot cancel a paid withdrawal."))
    assert response.data["error"]["message"] == "Cannot cancel a paid withdrawal."
    assert response.data["error"]["details"] == {}


def test_rate_limited_sets_retry_after():
    response = raising(errors.RateLimited(retry_after=42))
    assert response.status_code == 429
    assert response["Retry-After"] == "42"
    assert response.data["error"] == {"code": "rate_limited", "message": errors.RateLimited.default_message, "details": {"retry_after": 42}}


def test_serializer_validation_errors_are_400_with_field_details():
    class Body(serializers.Serializer):
        amount = serializers.CharField()
        nested = serializers.DictField(child=serializers.IntegerField())

    body = Body(data={"nested": {"a": "x"}})
    with pytest.raises(drf_exceptions.ValidationError) as exc:
        body.is_valid(raise_exception=True)
    response = raising(exc.value)
    assert response.status_code == 400
    assert response.data["error"]["code"] == "validation_error"
    details = response.data["error"]["details"]
    assert details["amount"] == ["This field is required."]
    assert details["nested"] == {"a": ["A valid integer is required."]}


def test_non_field_validation_error_is_under_non_field_errors():
    response = raising(drf_exceptions.ValidationError("Both or neither."))
    assert response.data["error"]["details"] == {"non_field_errors": ["Both or neither."]}


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (drf_exceptions.ParseError("bad json"), 400, "validation_error"),
        (drf_exceptions.NotAuthenticated(), 401, "not_authenticated"),
        (drf_exceptions.AuthenticationFailed(), 401, "token_invalid"),
        (InvalidToken(), 401, "token_invalid"),
        (drf_exceptions.PermissionDenied(), 403, "permission_denied"),
        (DjangoPermissionDenied(), 403, "permission_denied"),
        (drf_exceptions.NotFound(), 404, "not_found"),
        (Http404(), 404, "not_found"),
        (drf_exceptions.MethodNotAllowed("DELETE"), 405, "method_not_allowed"),
        (drf_exceptions.Throttled(wait=7), 429, "rate_limited"),
    ],
)
def test_framework_errors_use_the_same_shape(exc, status, code):
    response = raising(exc)
    assert response.status_code == status
    assert set(response.data) == {"error"}
    assert set(response.data["error"]) == {"code", "message", "details"}
    assert response.data["error"]["code"] == code


def test_throttled_carries_retry_after():
    response = raising(drf_exceptions.Throttled(wait=7))
    assert response["Retry-After"] == "7"


def test_unexpected_exceptions_are_left_to_the_500_handler():
    assert exception_handler(RuntimeError("bug"), {}) is None


def test_500_is_json_for_the_api_and_html_for_the_admin():
    api = api_server_error(RequestFactory().get("/api/v1/wallet"))
    assert api.status_code == 500
    assert b'"internal_error"' in api.content
    admin = api_server_error(RequestFactory().get("/admin/"))
    assert admin.status_code == 500
    assert b'"error"' not in admin.content


@pytest.mark.parametrize("exc", [OperationalError("terminating connection due to administrator command"), InterfaceError("closed")])
def test_a_database_outage_is_a_503_with_retry_after_not_a_500(exc):
    """API.md: 503 service_unavailable with Retry-After when a dependency such as the database failed mid-request."""
    response = raising(exc)
    assert response.status_code == 503
    assert response.data["error"]["code"] == "service_unavailable"
    assert set(response.data["error"]) == {"code", "message", "details"}
    assert response["Retry-After"] == "1"


def test_a_database_outage_outside_the_views_is_a_503_too():
    """A middleware's query fails before any view: handler500 answers it as the views' handler does."""
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        api = api_server_error(RequestFactory().get("/api/v1/wallet"))
    assert api.status_code == 503
    assert b'"service_unavailable"' in api.content
    assert api["Retry-After"] == "1"


def test_unknown_api_path_is_json_404(client):
    for path in ("/api/nothing", "/api/v1/nothing/at/all", "/api/v2/me"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_unknown_api_path_is_json_404_for_posts_too_without_csrf():
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    for path in ("/api/v1/wallet/withdrawals/abc/cancel", "/api/v1/nothing"):
        response = client.post(path, {}, content_type="application/json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
