from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The top layer (ARCHITECTURE.md): what shows or drives every other app at once, such as the demo data."""

    name = "apps.backoffice"
    label = "backoffice"
    verbose_name = "Back-office"

    def ready(self) -> None:
        from .realtime import connect_signals

        # Live updates (README "WebSockets"): the lower apps' after-commit signals, pushed to the sockets.
        connect_signals()
