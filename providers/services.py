"""Provider services: effective mode, clients per config, start-up report, first-run setup."""

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction

from core import audit
from core.audit import Actor
from core.models import AuditAction

from . import kinds
from .clients.base import ClientSettings, OutgoingEvent, ProviderClient
from .credentials import Credentials
from .endpoints import EndpointRefused, options_problems
from .inbound.pulling import Puller, PullTarget
from .kinds import build_client, payload_format, spec_for
from .models import ModeChange, ProviderConfig, ProviderMode

json_logger = logging.getLogger("helios.json")
logger = logging.getLogger(__name__)

CREDENTIALS_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class EffectiveMode:
    """The mode a provider config really sends in, and why."""

    mode: str
    reason: str

    @property
    def is_production(self) -> bool:
        """True when sends reach the real cloud."""
        return self.mode == ProviderMode.PRODUCTION


def deployment_allows_production() -> bool:
    """The deployment-wide switch: HELIOS_DEPLOYMENT_MODE=production."""
    return settings.HELIOS_DEPLOYMENT_MODE == "production"


_credentials_cache: dict[int, tuple[tuple, float, Credentials]] = {}


def resolve_credentials(config: ProviderConfig) -> Credentials:
    """The config's credentials, resolved at most every 30 s per process (SDK chains read files)."""
    options = config.options()
    key = (config.updated_at, config.kind, config.credentials_env_prefix, tuple(sorted(options.items())))
    cached = _credentials_cache.get(config.pk)
    if cached and cached[0] == key and time.monotonic() - cached[1] < CREDENTIALS_TTL_SECONDS:
        return cached[2]
    found = spec_for(config.kind).resolve_credentials(config.credentials_env_prefix, options)
    if config.pk is not None:
        _credentials_cache[config.pk] = (key, time.monotonic(), found)
    return found


def effective_mode(config: ProviderConfig) -> EffectiveMode:
    """Production only when requested, allowed by the deployment and the credentials resolve."""
    if config.mode == ProviderMode.DEMO:
        return EffectiveMode(ProviderMode.DEMO, "demo mode selected: no cloud is called")
    if not deployment_allows_production():
        return EffectiveMode(
            ProviderMode.DEMO,
            f"production requested, but this deployment does not allow production "
            f"(HELIOS_DEPLOYMENT_MODE={settings.HELIOS_DEPLOYMENT_MODE})",
        )
    if refused := endpoint_refusal(config):
        return EffectiveMode(ProviderMode.DEMO, f"production requested, but {refused}")
    found = resolve_credentials(config)
    if not found.ok:
        reason = f"production requested, but credentials do not resolve: {found.problem}"
        return EffectiveMode(ProviderMode.DEMO, reason)
    return EffectiveMode(ProviderMode.PRODUCTION, f"production: credentials from {found.source}")


def endpoint_refusal(config: ProviderConfig) -> str:
    """Why the config's endpoints may not get its traffic and credentials, in words ("" when they may)."""
    spec = spec_for(config.kind)
    problems = options_problems(spec.endpoints, {name: getattr(config, name) for name in spec.option_fields})
    return "; ".join(f"its {_label(config, field)} is refused: {problem}" for field, problem in problems.items())


def _label(obj: object, field: str) -> str:
    return str(obj._meta.get_field(field).verbose_name)  # type: ignore[attr-defined]


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
    puller = spec.puller
    if puller is None:
        raise ValueError(f"{config.get_kind_display()} has no pull round trip.")
    refused = options_problems(spec.pull_endpoints, {e.field: getattr(receiver, e.field) for e in spec.pull_endpoints})
    if refused:
        words = "; ".join(f"its {_label(receiver, field)} is refused: {problem}" for field, problem in refused.items())
        raise EndpointRefused(f"{config.name}: {words}")
    target = PullTarget(
        subscription=receiver.pull_subscription,
        namespace_endpoint=receiver.pull_namespace_endpoint,
        namespace_topic=receiver.pull_namespace_topic,
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
    _credentials_cache.clear()
    while _clients:
        _, (_, client) = _clients.popitem()
        client.close()


def check_event(config: ProviderConfig, event: OutgoingEvent) -> list[str]:
    """Every limit of this provider the event breaks, as sentences (empty when it fits)."""
    fmt = payload_format(client_settings(config))
    return fmt.problems(fmt.build(event))


def production_names(configs: Sequence[ProviderConfig]) -> str:
    """The names of the configs whose effective mode is production, sorted, comma-separated: what a
    send to them must be confirmed with ("" when none is)."""
    return ", ".join(sorted(config.name for config in configs if effective_mode(config).is_production))


def production_send_problem(configs: Sequence[ProviderConfig], confirmation: str) -> str:
    """Why a send to these configs may not go ahead ("" when it may): one that is in production
    needs a confirmation naming exactly the production ones. The console, bulk, resend and the
    CLI all ask this."""
    names = production_names(configs)
    if names and confirmation.strip() != names:
        return f"This sends to PRODUCTION: {names}. Confirm with exactly these names to send for real."
    return ""


#: Fields that decide where a config's events go and with which credentials: on a production
#: config, changing any of them is as grave as switching to production.
TARGET_FIELDS = ("kind", *kinds.target_fields(), "credentials_env_prefix")


def production_target_problem(
    *, config: ProviderConfig, changed: Sequence[str], actor: Actor, confirmation: str
) -> str:
    """Why this change of a production config's target may not be saved ("" when it may): it needs
    the permission to switch to production and the config's name typed as confirmation."""
    fields = [name for name in TARGET_FIELDS if name in changed]
    if config.pk is None or config.mode != ProviderMode.PRODUCTION or not fields:
        return ""
    labels = ", ".join(str(ProviderConfig._meta.get_field(name).verbose_name) for name in fields)
    user = actor.account
    if user is None or not user.has_perm("providers.switch_mode"):
        return (
            f"{config.name} is a PRODUCTION config: changing where it sends ({labels}) needs the permission "
            "to switch providers to production."
        )
    if confirmation.strip() != config.name:
        return (
            f"{config.name} is a PRODUCTION config: this changes where its events and credentials go ({labels}). "
            f"Type its name, {config.name}, in the confirmation field to save."
        )
    return ""


class ModeSwitchRefused(Exception):
    """The switch was not made; the message says why."""


def switch_mode(*, config: ProviderConfig, to_mode: str, actor: Actor, reason: str) -> ModeChange:
    """Switch a config between demo and production, audited. Production needs a reason."""
    if to_mode not in ProviderMode.values:
        raise ModeSwitchRefused(f"Unknown mode {to_mode!r}.")
    reason = reason.strip()
    if to_mode == ProviderMode.PRODUCTION and not reason:
        raise ModeSwitchRefused("Give a reason for switching to production; it is kept in the audit log.")
    with transaction.atomic():
        locked = ProviderConfig.objects.select_for_update().get(pk=config.pk)
        if locked.mode == to_mode:
            raise ModeSwitchRefused(f"{locked.name} is already in {to_mode} mode.")
        from_mode = locked.mode
        locked.mode = to_mode
        locked.save(update_fields=["mode", "updated_at"])
        mode = effective_mode(locked)
        change = ModeChange.objects.create(
            provider=locked,
            changed_by=actor.account,
            from_mode=from_mode,
            to_mode=to_mode,
            reason=reason or "(no reason given)",
            effective_mode=mode.mode,
            effective_reason=mode.reason[:500],
            remote_addr=actor.remote_addr,
        )
        audit.record(
            actor=actor,
            action=AuditAction.MODE_SWITCH,
            target=f"provider {locked.name}",
            summary=f"{from_mode} → {to_mode} (effective: {mode.mode}): {change.reason}",
            details={"from": from_mode, "to": to_mode, "effective_mode": mode.mode, "effective_reason": mode.reason},
        )
    config.refresh_from_db()
    json_logger.info(
        json.dumps(
            {
                "event": "provider_mode_switch",
                "provider": config.name,
                "from": from_mode,
                "to": to_mode,
                "effective_mode": mode.mode,
                "reason": mode.reason,
                "user": actor.account.get_username() if actor.account else None,
            }
        )
    )
    return change


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
    """On first run, create one demo config per kind; do nothing once any config exists."""
    with transaction.atomic():
        if ProviderConfig.objects.exists():
            return []
        created = []
        for spec in kinds.SPECS:
            config = ProviderConfig(kind=spec.name, mode=ProviderMode.DEMO, **spec.demo_config)
            config.full_clean()
            config.save()
            created.append(config)
        return created
