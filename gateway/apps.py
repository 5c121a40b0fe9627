from django.apps import AppConfig


class GatewayConfig(AppConfig):
    """Services publish through HELIOS by HTTP: the API, its keys."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "gateway"
    verbose_name = "Gateway"
