"""Each process's provider clients and pullers: built from a config once, reused until the config
changes, closed at shutdown; and the limits an event must fit for a config."""

from collections.abc import Callable

from django.conf import settings

from .clients.base import ClientSettings, OutgoingEvent, ProviderClient
from .endpoints import EndpointRefused, options_problems
from .inbound.puller import Puller, PullTarget
from .kinds import build_client, payload_format, spec_for
from .models import ProviderConfig, ProviderMode
from .modes import endpoint_refusal, field_label, forget_credentials, resolve_credentials


def client_settings(config: ProviderConfig, *, with_credentials: bool = False) -> ClientSettings:
    """The plain values a client gets for this config (credentials only for real clients, and
    only when every endpoint of the config may get them: EndpointRefused otherwise)."""
    if with_credentials and (refused := endpoint_refusal(config)):
        raise EndpointRefused(f"{config.name}: {refused}")
    return ClientSettings(
        name=config.name,
        kind=config.kind,
        options=config.options(),
        demo_failure_rate=config.demo_failure_rate,
        demo_latency_ms=config.demo_latency_ms,
        timeout_seconds=settings.HELIOS_PROVIDER_TIMEOUT_SECONDS,
        credentials=resolve_credentials(config).secret if with_credentials else {},
    )


def puller_for(config: ProviderConfig) -> Puller:
    """The SDK puller for the config's pull subscription (its receiver must be set to pull)."""
    receiver = config.receiver
    spec = spec_for(config.kind).receiver
    puller = spec.puller if spec is not None else None
    if spec is None or puller is None:
        raise ValueError(f"{config.get_kind_display()} has no pull round trip.")
    refused = options_problems(spec.pull_endpoints, {e.field: getattr(receiver, e.field) for e in spec.pull_endpoints})
    if refused:
        words = "; ".join(f"its {field_label(receiver, name)} is refused: {why}" for name, why in refused.items())
        raise EndpointRefused(f"{config.name}: {words}")
    target = PullTarget(
        subscription=receiver.pull_subscription,
        options={key: getattr(receiver, name) for name, key in spec.pull_option_keys.items()},
    )
    return puller(client_settings(config, with_credentials=True), target, wait_seconds=receiver.pull_wait_seconds)


_clients: dict[tuple[int, str], tuple[tuple, ProviderClient]] = {}


def client_for(config: ProviderConfig, mode: str) -> ProviderClient:
    """This process's client for the config in a mode, built once and reused until the config changes."""
    key = (config.updated_at, config.credentials_env_prefix)
    cached = _clients.get((config.pk, mode))
    if cached and cached[0] == key:
        return cached[1]
    if cached:
        cached[1].close()
    production = mode == ProviderMode.PRODUCTION
    client = build_client(client_settings(config, with_credentials=production), mode=mode)
    _clients[(config.pk, mode)] = (key, client)
    return client


def close_clients() -> None:
    """Close every cached client and forget resolved credentials (worker shutdown, tests)."""
    forget_credentials()
    while _clients:
        _, (_, client) = _clients.popitem()
        client.close()


def check_event(config: ProviderConfig, event: OutgoingEvent) -> list[str]:
    """Every limit of this provider the event breaks, as sentences (empty when it fits)."""
    return event_limits(config)(event)


def event_limits(config: ProviderConfig) -> Callable[[OutgoingEvent], list[str]]:
    """`check_event` for many events: the provider's payload format is read once."""
    fmt = payload_format(client_settings(config))
    return lambda event: fmt.problems(fmt.build(event))
