"""Who must pass the staff second factor, and whether a session has passed it.

One rule for every door into the back-office: the admin's pages (middleware.StaffTwoFactorMiddleware) and the
staff dashboard's WebSocket (consumers.StaffConsumer). A door that asked a rule of its own would be the one a
stolen password still opens.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.conf import settings
from django_otp.middleware import OTPMiddleware


def two_factor_required(user) -> bool:
    """Whether this user must pass a second factor: a member of a role in STAFF_2FA_REQUIRED_ROLES, or a superuser.

    A superuser holds every role's powers (moving money, reading AML cases and identity documents), so wherever
    any role must pass the second factor, a superuser must too; otherwise the most powerful account would be the
    one a password alone opens (UKGC RTS / LCCP security requirements; ISO 27001 A.9.4.2 secure log-on).
    With no role listed (the demo and test settings), nobody must.
    """
    if not settings.STAFF_2FA_REQUIRED_ROLES or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.is_staff and user.groups.filter(name__in=settings.STAFF_2FA_REQUIRED_ROLES).exists()


def second_factor_missing(user) -> bool:
    """Whether this session must still pass the second factor before the back-office opens to it.

    `user` is as django-otp's OTPMiddleware leaves `request.user` (with `is_verified()`); a WebSocket gets one
    from otp_user(). The session's verification is read first: a verified session needs no role query.
    """
    return not user.is_verified() and two_factor_required(user)


def otp_user(user, session):
    """`user` as django-otp's OTPMiddleware would leave `request.user` for this session (`is_verified()` set).

    A WebSocket has the session (channels' SessionMiddleware) but runs no Django middleware; running
    OTPMiddleware itself on the pair, rather than reading its session key here, keeps the device checks
    (the device is confirmed, belongs to this user, still exists) exactly the ones the admin's pages make.
    Call it from sync code: the device is looked up in the database on first use.
    """
    carrier = SimpleNamespace(user=user, session=session)
    OTPMiddleware(lambda request: None)(carrier)
    return carrier.user
