from django.apps import AppConfig


class LimitsConfig(AppConfig):
    name = "apps.limits"
    label = "limits"
    verbose_name = "Responsible gaming"

    def ready(self) -> None:
        from apps.players.signals import player_logged_in

        from .services import protection_session_start

        def start_session(sender, player, **kwargs) -> None:
            protection_session_start(player=player)

        player_logged_in.connect(start_session, dispatch_uid="limits.protection_session_start", weak=False)
