"""The project package is an app for the `console` and `roles` commands and the role groups."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class HeliosSiteConfig(AppConfig):
    name = "helios_site"
    verbose_name = "HELIOS"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_migrate.connect(_sync_roles, dispatch_uid="helios_roles")
        post_spawn.connect(_worker_started, dispatch_uid="helios_worker_beat")


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    """After migrate (at this app's turn, the last one), bring the role groups up to date."""
    if sender.name == "helios_site":
        from .roles import ensure_roles

        ensure_roles()


def _worker_started(sender: object, **kwargs: object) -> None:
    """A worker process has started: it beats at once, so /readyz never goes by a dead one's beat."""
    from .health import beat

    beat()
