from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"
    verbose_name = "Regulatory reports"

    def ready(self) -> None:
        # Fill the registry: each module declares its report types with @register.
        from . import types  # noqa: F401
