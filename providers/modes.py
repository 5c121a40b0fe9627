"""Effective mode: the mode a provider config really sends in (production only when requested,
allowed by the deployment, its endpoints allowed and its credentials resolving), and why."""

import time
from dataclasses import dataclass

from django.conf import settings

from .credentials import Credentials
from .endpoints import options_problems
from .kinds import spec_for
from .models import ProviderConfig, ProviderMode

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


def forget_credentials() -> None:
    """Forget every resolved credential (with the clients that used them: worker shutdown, tests)."""
    _credentials_cache.clear()


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
    return "; ".join(f"its {field_label(config, field)} is refused: {problem}" for field, problem in problems.items())


def field_label(obj: object, field: str) -> str:
    """A model field's verbose name, as a form labels it."""
    return str(obj._meta.get_field(field).verbose_name)  # type: ignore[attr-defined]
