from django.apps import AppConfig


class KycConfig(AppConfig):
    name = "apps.kyc"
    label = "kyc"
    verbose_name = "KYC"

    def ready(self) -> None:
        from apps.core.player_facts import register_player_fact

        from .models import KycState
        from .selectors import kyc_status

        register_player_fact("kyc_status", lambda player: kyc_status(player=player), choices=KycState.values)
