"""ASGI entry point: HTTP through Django, WebSockets (/ws/) through Channels (apps/backoffice/routing.py)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from apps.core.asgi import BoundedThreads, get_asgi_application

# Django first: the consumers below import models, which need the app registry ready. Each process serves HTTP
# on ASGI_THREADS reused threads, each with one persistent DB connection; the middleware chain and the view
# run in that thread as under WSGI (apps.core.asgi: measured, README "Web servers").
django_asgi_app = BoundedThreads(get_asgi_application(), threads=int(os.environ.get("ASGI_THREADS", "4")))

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.backoffice.routing import websocket_urlpatterns  # noqa: E402
from apps.payments.fast_wallet import FastWalletMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        # GET /api/v1/wallet with a valid player token is answered on the event loop; all else goes to Django.
        "http": FastWalletMiddleware(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns()),
    }
)
