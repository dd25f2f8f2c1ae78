"""Two-factor authentication for the staff who require it (second_factor.two_factor_required: the roles in
STAFF_2FA_REQUIRED_ROLES, production: operator and compliance, and superusers wherever any role requires it)."""

from __future__ import annotations

from django.shortcuts import redirect
from django.urls import reverse

from .second_factor import second_factor_missing

# The pages a signed-in member of staff needs before the second factor: set it up, enter it, or leave.
_OPEN = ("backoffice_2fa_setup", "backoffice_2fa_verify", "admin:logout", "admin:login", "admin:jsi18n")


class StaffTwoFactorMiddleware:
    """Sends staff who require 2FA to set up or enter their TOTP code before any other admin page."""

    def __init__(self, get_response):
        self.get_response = get_response

    _admin_prefix: str | None = None

    def __call__(self, request):
        user = getattr(request, "user", None)
        if self._admin_prefix is None:
            # Resolved on the first request (URLconfs load lazily), not on every API call that never enters the admin.
            StaffTwoFactorMiddleware._admin_prefix = reverse("admin:index")
        if (
            user is not None
            and request.path.startswith(self._admin_prefix)
            and request.path not in {reverse(name) for name in _OPEN}
            and second_factor_missing(user)
        ):
            from django_otp import user_has_device

            target = "backoffice_2fa_verify" if user_has_device(user) else "backoffice_2fa_setup"
            return redirect(f"{reverse(target)}?next={request.path}")
        return self.get_response(request)
