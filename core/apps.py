"""The shared layer every other HELIOS package may use (and that uses none of them): the audit
trail, logging with the one redaction module, strict JSON, badges, the read-only admin mixin, the
role table, the client's address, tracing, and the marks a supervised worker cluster keeps."""

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "HELIOS"

    def ready(self) -> None:
        from . import lifeline, tracing, worker_state

        post_migrate.connect(_sync_roles, dispatch_uid="helios_roles")
        tracing.configure()
        tracing.set_workers_up()
        lifeline.install()
        worker_state.install_marks()


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    """After migrate, at the turn of the last app with models (every permission exists by then),
    bring the role groups up to date."""
    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender.name == last.name:
        from .roles import ensure_roles

        ensure_roles()
