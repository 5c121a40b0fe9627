"""The project package is an app for the `console` and `roles` commands and the role groups."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class HeliosSiteConfig(AppConfig):
    name = "helios_site"
    verbose_name = "HELIOS"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, dispatch_uid="helios_roles")


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    """After migrate (at this app's turn, the last one), bring the role groups up to date."""
    if sender.name == "helios_site":
        from .roles import ensure_roles

        ensure_roles()
