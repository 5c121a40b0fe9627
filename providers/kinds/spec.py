"""What HELIOS knows about one kind of provider, declared in one place (see providers/kinds)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from ..clients.base import Payload, PayloadFormat, ProviderClient
from ..credentials import Credentials
from ..endpoints import Endpoint
from ..inbound.parsing import Parsed
from ..inbound.puller import Puller


class ReceiverAuth(models.TextChoices):
    """How a cloud's push delivery can authenticate to a HELIOS receiver."""

    TOKEN = "token", "Shared token in the URL (?token=…)"
    OIDC = "oidc", "OIDC JWT in Authorization (Pub/Sub push authentication)"
    API_KEY = "api_key", "API key header (EventBridge connection)"
    BASIC = "basic", "Basic auth (EventBridge connection)"


#: An option validator: the config's values by field name → {field name: the problem in words}.
Validator = Callable[[Mapping[str, Any]], dict[str, str]]
#: A push parser: body, content type and lower-cased headers → the events in it.
InboundParser = Callable[[bytes, str, Mapping[str, str]], Parsed]
#: What the cloud pushes back for a published payload: body, content type, lower-cased headers
#: (demo mode plays the cloud with it).
PushSimulator = Callable[[Payload], tuple[bytes, str, dict[str, str]]]


@dataclass(frozen=True)
class Receiver:
    """How the cloud pushes events back to HELIOS (the round trip)."""

    #: The URL segment: /receive/<path>/<config id>/.
    path: str
    parse: InboundParser
    simulate: PushSimulator
    #: Authentications the cloud's push delivery can use, the recommended one first.
    auths: tuple[str, ...]
    #: The status that acknowledges a delivery to this cloud.
    ok_status: int = 200
    #: The answer to poison from an authenticated sender (recorded as an unexpected arrival): a
    #: status this cloud does not redeliver on (docs/round-trip.md, "Poison").
    poison_status: int = 400
    #: Answers the CloudEvents webhook validation handshake (HTTP OPTIONS).
    options_handshake: bool = False
    #: The pull alternative: the SDK puller, its name in words, and the settings it needs.
    puller: type[Puller] | None = None
    pull_via: str = ""
    pull_fields: tuple[str, ...] = ("pull_subscription",)
    #: An abstract model with this kind's own pull options (ReceiverSettings inherits it), and the
    #: key the puller reads each under (`PullTarget.options`).
    pull_options_model: type[models.Model] | None = None
    pull_option_keys: Mapping[str, str] = field(default_factory=dict)
    #: Pull fields that say where the puller connects (checked like the kind's `endpoints`).
    pull_endpoints: tuple[Endpoint, ...] = ()

    @property
    def url_name(self) -> str:
        """The URL name of this cloud's receiver view."""
        return f"receive_{self.path}"


@dataclass(frozen=True)
class KindSpec:
    """Everything about one provider kind: the registry maps its name to this."""

    #: Stored in ProviderConfig.kind.
    name: str
    label: str
    #: The short name `manage.py publish --provider` accepts for every config of this kind.
    cli_alias: str
    #: An abstract model holding this kind's option fields (ProviderConfig inherits it).
    options_model: type[models.Model]
    #: Option field → the key the payload format and client read it under.
    option_keys: Mapping[str, str]
    #: Option fields that decide where events go (changing them on a production config is grave).
    target_fields: tuple[str, ...]
    validate: Validator
    payload_format: type[PayloadFormat]
    client: type[ProviderClient]
    #: (credentials prefix, options by client key) → where the credentials come from.
    resolve_credentials: Callable[[str, Mapping[str, Any]], Credentials]
    #: The target in one line for lists, from the options by client key.
    describe_target: Callable[[Mapping[str, Any]], str]
    #: OpenTelemetry's `messaging.system` for this kind's sends (its well-known value where the
    #: conventions have one: gcp_pubsub, eventgrid).
    messaging_system: str
    #: How the cloud sends events back (None: no round trip, e.g. a webhook to any endpoint).
    receiver: Receiver | None
    #: Option fields that say where the client connects: only the cloud's own hosts, or hosts the
    #: deployment allows, may get its traffic and credentials (providers.endpoints).
    endpoints: tuple[Endpoint, ...] = ()
    #: A demo config of this kind: name, description and option field values.
    demo_config: Mapping[str, Any] = field(default_factory=dict)
    #: Whether the first run creates the demo config (the clouds: yes; an endpoint only the
    #: operator can name, a webhook: no).
    demo_on_first_run: bool = True

    @property
    def round_trip(self) -> bool:
        """Whether events sent to this kind can come back to HELIOS (push or pull)."""
        return self.receiver is not None

    @property
    def option_fields(self) -> tuple[str, ...]:
        """This kind's option field names, in form order."""
        return tuple(self.option_keys)

    def admin_fieldset(self) -> tuple[str, dict[str, Any]]:
        """The admin fieldset with this kind's options (the add page shows the chosen kind's only)."""
        return (
            self.label,
            {
                "fields": list(self.option_fields),
                "description": f"Only for kind {self.label}.",
                "classes": ["helios-kind-options", f"helios-kind-{self.name}"],
            },
        )
