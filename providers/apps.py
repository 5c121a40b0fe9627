"""Provider configs and the clients that publish to each cloud."""

import atexit

from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from .live_clients import close_clients
        from .startup import log_effective_modes

        def on_worker_spawn(sender: object, proc_name: str, **kwargs: object) -> None:
            log_effective_modes(process=f"worker:{proc_name}")

        post_spawn.connect(on_worker_spawn, weak=False, dispatch_uid="helios_provider_modes")
        atexit.register(close_clients)
