"""Login lock-out answer (django-axes calls this when an email is locked)."""

from django.http import JsonResponse


def lockout_response(request, credentials, *args, **kwargs) -> JsonResponse:
    from django.conf import settings

    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = JsonResponse(
        {"error": {"code": "rate_limited", "message": "Too many failed logins; try again later.",
                   "details": {"retry_after": retry_after}}},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
