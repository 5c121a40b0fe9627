"""The registry of provider kinds: each cloud HELIOS publishes to is one folder here.

Everything else asks the registry. Adding a cloud is one folder (as `cloudevents_http/`) declaring
a `KindSpec` (options, payload format, client, credentials,
receiver or none, labels) and one line in `SPECS`; then run `manage.py makemigrations providers`
for its option fields and the conformance suites (tests/providers/test_client_conformance.py,
tests/events/test_inbound_conformance.py).
"""

from django.db import models

from ..clients.base import ClientSettings, PayloadFormat, ProviderClient
from ..clients.demo import DemoClient
from .aws_eventbridge import EVENTBRIDGE
from .azure_eventgrid import EVENT_GRID
from .cloudevents_http import CLOUDEVENTS_HTTP
from .gcp_pubsub import PUBSUB
from .spec import KindSpec, Receiver, ReceiverAuth

SPECS: tuple[KindSpec, ...] = (EVENTBRIDGE, PUBSUB, EVENT_GRID, CLOUDEVENTS_HTTP)

KINDS: dict[str, KindSpec] = {spec.name: spec for spec in SPECS}

#: The kinds as model choices; members are named after the kind (ProviderKind.GCP_PUBSUB).
ProviderKind = models.TextChoices("ProviderKind", [(spec.name.upper(), (spec.name, spec.label)) for spec in SPECS])

#: The abstract models with every kind's option fields, for ProviderConfig to inherit.
OPTION_MODELS: tuple[type[models.Model], ...] = tuple(spec.options_model for spec in SPECS)

#: The abstract models with every kind's own pull options, for ReceiverSettings to inherit.
RECEIVER_OPTION_MODELS: tuple[type[models.Model], ...] = tuple(
    spec.receiver.pull_options_model for spec in SPECS if spec.receiver and spec.receiver.pull_options_model
)


def pull_option_fields() -> tuple[str, ...]:
    """Every kind's own pull option fields, in registry order (for the round-trip form)."""
    return tuple(name for spec in SPECS if spec.receiver for name in spec.receiver.pull_option_keys)


__all__ = [
    "KINDS",
    "OPTION_MODELS",
    "RECEIVER_OPTION_MODELS",
    "SPECS",
    "KindSpec",
    "ProviderKind",
    "Receiver",
    "ReceiverAuth",
]


def spec_for(kind: str) -> KindSpec:
    """The spec of a stored kind (KeyError for one HELIOS does not know)."""
    return KINDS[kind]


def by_cli_alias(alias: str) -> KindSpec | None:
    """The kind a CLI alias (aws, gcp, azure) names, if any."""
    return next((spec for spec in SPECS if spec.cli_alias == alias), None)


def target_fields() -> tuple[str, ...]:
    """Every kind's target-deciding option fields."""
    return tuple(name for spec in SPECS for name in spec.target_fields)


def payload_format(settings: ClientSettings) -> PayloadFormat:
    """The payload format for a provider config."""
    return KINDS[settings.kind].payload_format(settings.options)


def build_client(settings: ClientSettings, *, mode: str) -> ProviderClient:
    """A client for the config in the given effective mode ("demo" or "production")."""
    if mode == "production":
        return KINDS[settings.kind].client(settings, payload_format(settings))
    return DemoClient(settings, payload_format(settings))
