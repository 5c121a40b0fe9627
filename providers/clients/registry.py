"""Which payload format and which client serve each provider kind."""

from .aws_eventbridge import EventBridgeFormat
from .azure_eventgrid import EventGridFormat
from .base import ClientSettings, PayloadFormat, ProviderClient
from .demo import DemoClient
from .gcp_pubsub import PubSubFormat

PAYLOAD_FORMATS: dict[str, type[PayloadFormat]] = {
    fmt.kind: fmt for fmt in (EventBridgeFormat, PubSubFormat, EventGridFormat)
}

#: Real SDK clients by kind. Empty until the production clients land: every provider's
#: effective mode is demo until its kind appears here.
PRODUCTION_CLIENTS: dict[str, type[ProviderClient]] = {}


def payload_format(settings: ClientSettings) -> PayloadFormat:
    """The payload format for a provider config."""
    return PAYLOAD_FORMATS[settings.kind](settings.options)


def has_production_client(kind: str) -> bool:
    """True when a real SDK client exists for this kind."""
    return kind in PRODUCTION_CLIENTS


def build_client(settings: ClientSettings, *, mode: str) -> ProviderClient:
    """A client for the config in the given effective mode ("demo" or "production")."""
    if mode == "production":
        return PRODUCTION_CLIENTS[settings.kind](settings, payload_format(settings))
    return DemoClient(settings, payload_format(settings))
