"""Provider services: effective mode, clients per config, start-up report, first-run setup."""

import json
import logging
import os
from dataclasses import dataclass

from django.db import DatabaseError, transaction

from .clients.base import ClientSettings, OutgoingEvent, ProviderClient
from .clients.registry import build_client, has_production_client, payload_format
from .models import EventGridSchema, ProviderConfig, ProviderKind, ProviderMode

json_logger = logging.getLogger("helios.json")

NO_PRODUCTION_CLIENT = (
    "production requested, but the production client is not available in this version: sending in demo mode"
)


@dataclass(frozen=True)
class EffectiveMode:
    """The mode a provider config really sends in, and why."""

    mode: str
    reason: str

    @property
    def is_production(self) -> bool:
        """True when sends reach the real cloud."""
        return self.mode == ProviderMode.PRODUCTION


def effective_mode(config: ProviderConfig) -> EffectiveMode:
    """Demo unless production is requested and a production client exists."""
    if config.mode == ProviderMode.DEMO:
        return EffectiveMode(ProviderMode.DEMO, "demo mode selected: no cloud is called")
    if not has_production_client(config.kind):
        return EffectiveMode(ProviderMode.DEMO, NO_PRODUCTION_CLIENT)
    return EffectiveMode(ProviderMode.PRODUCTION, "production mode selected")


def client_settings(config: ProviderConfig) -> ClientSettings:
    """The plain values a client gets for this config."""
    return ClientSettings(
        name=config.name,
        kind=config.kind,
        options=config.options(),
        demo_failure_rate=config.demo_failure_rate,
        demo_latency_ms=config.demo_latency_ms,
    )


_clients: dict[int, tuple[tuple, ProviderClient]] = {}


def client_for(config: ProviderConfig, mode: EffectiveMode) -> ProviderClient:
    """This process's client for the config, built once and reused until the config changes."""
    key = (config.updated_at, mode.mode)
    cached = _clients.get(config.pk)
    if cached and cached[0] == key:
        return cached[1]
    if cached:
        cached[1].close()
    client = build_client(client_settings(config), mode=mode.mode)
    _clients[config.pk] = (key, client)
    return client


def close_clients() -> None:
    """Close every cached client (worker shutdown, tests)."""
    while _clients:
        _, (_, client) = _clients.popitem()
        client.close()


def check_event(config: ProviderConfig, event: OutgoingEvent) -> list[str]:
    """Every limit of this provider the event breaks, as sentences (empty when it fits)."""
    fmt = payload_format(client_settings(config))
    return fmt.problems(fmt.build(event))


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
                    "configured_mode": config.mode,
                    "mode": mode.mode,
                    "enabled": config.enabled,
                    "reason": mode.reason,
                }
            )
        )


DEMO_PROVIDERS = [
    dict(
        name="aws-demo",
        kind=ProviderKind.AWS_EVENTBRIDGE,
        description="Demo EventBridge bus",
        aws_region="eu-west-1",
        aws_event_bus="default",
        aws_source="com.helios.demo",
    ),
    dict(
        name="gcp-demo",
        kind=ProviderKind.GCP_PUBSUB,
        description="Demo Pub/Sub topic",
        gcp_project="helios-demo",
        gcp_topic="helios-events",
    ),
    dict(
        name="azure-demo",
        kind=ProviderKind.AZURE_EVENTGRID,
        description="Demo Event Grid topic",
        azure_endpoint="https://helios-demo.westeurope-1.eventgrid.azure.net/api/events",
        azure_input_schema=EventGridSchema.CLOUDEVENTS,
    ),
]


def bootstrap_demo_providers() -> list[ProviderConfig]:
    """On first run, create one demo config per kind; do nothing once any config exists."""
    with transaction.atomic():
        if ProviderConfig.objects.exists():
            return []
        created = []
        for values in DEMO_PROVIDERS:
            config = ProviderConfig(mode=ProviderMode.DEMO, **values)
            config.full_clean()
            config.save()
            created.append(config)
        return created
