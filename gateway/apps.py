from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GatewayConfig(AppConfig):
    """Services publish through HELIOS by HTTP: the API, its keys."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from .catalog_triggers import ensure_sqlite_triggers

        post_migrate.connect(ensure_sqlite_triggers, sender=self, dispatch_uid="helios-catalog-triggers")
