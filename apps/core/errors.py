"""Domain errors raised by services; one exception handler maps each to API.md's error shape and status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "validation_error"
    default_message = "The request is not valid."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status_code, code = 400, "validation_error"


class Underage(DomainError):
    status_code, code, default_message = 400, "underage", "Players must be at least 18 years old."


class CountryBlocked(DomainError):
    status_code, code, default_message = 400, "country_blocked", "We cannot accept players from this country."


class NotAuthenticated(DomainError):
    status_code, code, default_message = 401, "not_authenticated", "Authentication credentials were not provided."


class InvalidCredentials(DomainError):
    status_code, code, default_message = 401, "invalid_credentials", "Email or password is wrong."


class TokenInvalid(DomainError):
    status_code, code, default_message = 401, "token_invalid", "The token is invalid, expired or already used."


class AccountBlocked(DomainError):
    status_code, code, default_message = 403, "account_blocked", "This account is blocked."


class SelfExcluded(DomainError):
    status_code, code, default_message = 403, "self_excluded", "This account is excluded from play and deposits."


class KycRequired(DomainError):
    status_code, code, default_message = 403, "kyc_required", "Identity verification (KYC) must be approved first."


class AccountUnderReview(DomainError):
    # An AML hold (apps.core.holds). The message says nothing of why: no tipping-off (EU AMLD art. 39).
    status_code, code = 403, "account_under_review"
    default_message = "This account is under review; withdrawals are paused until the review is complete."


class MarketRestricted(DomainError):
    status_code, code, default_message = 403, "market_restricted", "The rules of your market do not allow this."


class PermissionDenied(DomainError):
    status_code, code, default_message = 403, "permission_denied", "You do not have permission to do this."


class NotFound(DomainError):
    status_code, code, default_message = 404, "not_found", "Not found."


class IdempotencyConflict(DomainError):
    status_code, code = 409, "idempotency_conflict"
    default_message = "This Idempotency-Key was already used with a different request."


class EmailTaken(DomainError):
    status_code, code, default_message = 409, "email_taken", "An account with this email already exists."


class InvalidState(DomainError):
    status_code, code, default_message = 409, "invalid_state", "This action is not possible in the current state."


class InsufficientFunds(DomainError):
    status_code, code, default_message = 422, "insufficient_funds", "Not enough funds."


class LimitExceeded(DomainError):
    status_code, code, default_message = 422, "limit_exceeded", "This would exceed a responsible-gaming limit."


class StakeOutOfRange(DomainError):
    status_code, code, default_message = 422, "stake_out_of_range", "The stake is outside the game's range."


class RateLimited(DomainError):
    status_code, code, default_message = 429, "rate_limited", "Too many attempts; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int, details: dict[str, Any] | None = None):
        self.retry_after = int(retry_after)
        super().__init__(message, details={"retry_after": self.retry_after, **(details or {})})


class ServiceUnavailable(DomainError):
    """A dependency (the database) failed mid-request. Its transaction was rolled back, so nothing moved
    unless it had committed; either way a retry with the same Idempotency-Key is safe (API.md)."""

    status_code, code = 503, "service_unavailable"
    default_message = "A service we depend on failed; nothing was half-done. Retry with the same Idempotency-Key."
    retry_after = 1
