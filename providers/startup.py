"""At start-up: one log line per provider config with its effective mode; demo configs on first run."""

import json
import logging
import os

from django.db import DatabaseError, transaction

from . import kinds
from .kinds import spec_for
from .models import ProviderConfig, ProviderMode
from .modes import effective_mode

json_logger = logging.getLogger("helios.json")


def log_effective_modes(*, process: str) -> None:
    """Log one JSON line per provider config with its effective mode and the reason."""
    try:
        configs = list(ProviderConfig.objects.order_by("name"))
    except DatabaseError as exc:
        json_logger.warning(
            json.dumps(
                {
                    "event": "provider_mode_unknown",
                    "process": process,
                    "pid": os.getpid(),
                    "reason": f"database not ready: {type(exc).__name__}",
                }
            )
        )
        return
    for config in configs:
        mode = effective_mode(config)
        json_logger.info(
            json.dumps(
                {
                    "event": "provider_mode",
                    "process": process,
                    "pid": os.getpid(),
                    "provider": config.name,
                    "kind": config.kind,
                    "target": spec_for(config.kind).describe_target(config.options()),
                    "configured_mode": config.mode,
                    "mode": mode.mode,
                    "enabled": config.enabled,
                    "reason": mode.reason,
                }
            )
        )


def bootstrap_demo_providers() -> list[ProviderConfig]:
    """On first run, create one demo config per cloud (each kind that asks for one); do nothing
    once any config exists."""
    with transaction.atomic():
        if ProviderConfig.objects.exists():
            return []
        created = []
        for spec in kinds.SPECS:
            if not spec.demo_on_first_run:
                continue
            config = ProviderConfig(kind=spec.name, mode=ProviderMode.DEMO, **spec.demo_config)
            config.full_clean()
            config.save()
            created.append(config)
        return created
