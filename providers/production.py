"""Production rules: what a send to production, or a change of a production config's target,
must be confirmed with. Every way in asks these (console, bulk, resend, replay, CLI, API)."""

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ProductionGrant:
    """What allows a send to production configs, asked the same way by every way in: an
    operator's confirmation typing exactly the production configs' names (console, bulk, resend,
    replay, CLI), or a publisher's standing grant (an API key's "may send to production")."""

    #: The names an operator typed (or a checkbox carried) to confirm.
    confirmation: str = ""
    #: Who holds a standing grant, in words ("the API key order-service"); "" for a typed one.
    holder: str = ""
    #: Whether that holder may send to production.
    held: bool = False

    @classmethod
    def typed(cls, confirmation: str) -> "ProductionGrant":
        """An operator's confirmation, checked against the production configs' names."""
        return cls(confirmation=confirmation)

    @classmethod
    def standing(cls, holder: str, *, held: bool) -> "ProductionGrant":
        """A publisher's standing grant (or its absence), named in the refusal."""
        return cls(holder=holder, held=held)

    def problem(self, configs: Sequence[ProviderConfig]) -> str:
        """Why a send to these configs may not go ahead ("" when it may)."""
        names = production_names(configs)
        if not names:
            return ""
        if self.holder:
            return "" if self.held else f"{names}: in production, and {self.holder} may not send to production."
        if self.confirmation.strip() != names:
            return f"This sends to PRODUCTION: {names}. Confirm with exactly these names to send for real."
        return ""


#: Neither a confirmation nor a standing grant: a send to production is refused.
NO_GRANT = ProductionGrant()


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
