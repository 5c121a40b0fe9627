"""The project package is an app for the `console` and `roles` commands and the worker's first beat."""

from django.apps import AppConfig


class HeliosSiteConfig(AppConfig):
    name = "helios_site"
    verbose_name = "HELIOS"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_spawn.connect(_worker_started, dispatch_uid="helios_worker_beat")


def _worker_started(sender: object, **kwargs: object) -> None:
    """A worker process has started: it beats at once, so /readyz never goes by a dead one's beat."""
    from core.heartbeat import beat

    beat()
