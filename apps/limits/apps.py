from django.apps import AppConfig


class LimitsConfig(AppConfig):
    name = "apps.limits"
    label = "limits"
    verbose_name = "Responsible gaming"

    def ready(self) -> None:
        from apps.players.signals import player_logged_in, player_registered

        from .services import limits_at_registration, protection_session_start

        def start_session(sender, player, **kwargs) -> None:
            protection_session_start(player=player)

        player_logged_in.connect(start_session, dispatch_uid="limits.protection_session_start", weak=False)

        def registered(sender, player, deposit_limits=None, **kwargs) -> None:
            # Inside the registration's transaction: a refusal here registers nobody.
            limits_at_registration(player=player, chosen=deposit_limits or {})

        player_registered.connect(registered, dispatch_uid="limits.limits_at_registration", weak=False)
