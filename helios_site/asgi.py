"""ASGI entry point for the HELIOS web process."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")

application = get_asgi_application()

from providers.startup import log_effective_modes  # noqa: E402  (needs Django set up)

log_effective_modes(process="web")
