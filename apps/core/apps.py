from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.core.signals import request_started

        from . import exports  # noqa: F401  (registers the DataExport admin)
        from .db_health import skip_recent_health_checks
        from .role_sync import sync_roles_after_migrate

        request_started.connect(skip_recent_health_checks, dispatch_uid="core.skip_recent_health_checks")

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="core.sync_roles_after_migrate")
