from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "apps.markets"
    label = "markets"
    verbose_name = "Markets and licences"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from apps.core.markets_hook import register_market_resolver

        from .models import ExchangeRate, Market
        from .registers import identity_on_national_register
        from .selectors import clear_policy_cache, market_codes, market_for_country

        def register_of(code: str) -> str:
            return Market.objects.filter(code=code).values_list("national_register", flat=True).first() or ""

        def markets_with_register() -> list[str]:
            return list(Market.objects.exclude(national_register="").values_list("code", flat=True))

        register_market_resolver(
            market_for_country=market_for_country, market_codes=market_codes, on_national_register=identity_on_national_register,
            register_of=register_of, markets_with_register=markets_with_register,
        )

        def forget_policies(sender, **kwargs) -> None:
            clear_policy_cache()

        post_save.connect(forget_policies, sender=Market, dispatch_uid="markets.forget_policies_on_save", weak=False)
        post_delete.connect(forget_policies, sender=Market, dispatch_uid="markets.forget_policies_on_delete", weak=False)
        post_save.connect(forget_policies, sender=ExchangeRate, dispatch_uid="markets.forget_rates_on_save", weak=False)
        post_delete.connect(forget_policies, sender=ExchangeRate, dispatch_uid="markets.forget_rates_on_delete", weak=False)

        def reinstall_defaults(sender, **kwargs) -> None:
            # A flushed database (transactional tests) keeps its tables but loses the data migration's rows.
            from .defaults import install_defaults

            if not Market.objects.exists():
                install_defaults(Market, ExchangeRate)
                clear_policy_cache()

        post_migrate.connect(reinstall_defaults, sender=self, dispatch_uid="markets.reinstall_defaults", weak=False)
