from django.apps import AppConfig


class GamesConfig(AppConfig):
    name = "apps.games"
    label = "games"
    verbose_name = "Games"

    def ready(self) -> None:
        from apps.limits.signals import exclusion_started

        from .services import close_sessions_on_exclusion

        # Self-exclusion and time-outs end play at once (UKGC LCCP SR 3.5.3): open sessions close.
        exclusion_started.connect(close_sessions_on_exclusion, dispatch_uid="games.close_sessions_on_exclusion")
