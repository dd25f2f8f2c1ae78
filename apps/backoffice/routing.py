"""WebSocket routes (config/asgi.py mounts them), each behind the origin check that fits its authentication.

The staff feed authenticates with the admin's session cookie, so only the back-office's own hosts
(ALLOWED_HOSTS) may open it: a browser on another site would otherwise send that cookie along
(cross-site WebSocket hijacking). The player's wallet authenticates with a bearer token, which another
site cannot send in the player's name; its origins are the operator's front ends (WALLET_WS_ALLOWED_ORIGINS,
by default ALLOWED_HOSTS too).
"""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator
from django.conf import settings
from django.urls import path, re_path

from .consumers import NotFoundConsumer, StaffConsumer, WalletConsumer


def websocket_urlpatterns() -> list:
    return [
        path("ws/wallet/", OriginValidator(WalletConsumer.as_asgi(), settings.WALLET_WS_ALLOWED_ORIGINS)),
        path("ws/staff/", AllowedHostsOriginValidator(AuthMiddlewareStack(StaffConsumer.as_asgi()))),
        re_path(r"", NotFoundConsumer.as_asgi()),
    ]
