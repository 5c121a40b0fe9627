"""Production rules: what a send to production, or a change of a production config's target,
must be confirmed with. Every way in asks these (console, bulk, resend, replay, CLI, API)."""

from collections.abc import Sequence

from core.audit import Actor

from . import kinds
from .models import ProviderConfig, ProviderMode
from .modes import effective_mode


def names_config(typed: str, config: ProviderConfig | None) -> bool:
    """Whether an operator typed exactly this config's name (spaces around aside): the
    confirmation every grave change to one production config asks for."""
    return config is not None and typed.strip() == config.name


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
    if not names_config(confirmation, config):
        return (
            f"{config.name} is a PRODUCTION config: this changes where its events and credentials go ({labels}). "
            f"Type its name, {config.name}, in the confirmation field to save."
        )
    return ""
