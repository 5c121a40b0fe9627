"""Which payload format and which client serve each provider kind."""

from .aws_eventbridge import EventBridgeClient, EventBridgeFormat
from .azure_eventgrid import EventGridClient, EventGridFormat
from .base import ClientSettings, PayloadFormat, ProviderClient
from .demo import DemoClient
from .gcp_pubsub import PubSubClient, PubSubFormat

PAYLOAD_FORMATS: dict[str, type[PayloadFormat]] = {
    fmt.kind: fmt for fmt in (EventBridgeFormat, PubSubFormat, EventGridFormat)
}

#: Real SDK clients by kind.
PRODUCTION_CLIENTS: dict[str, type[ProviderClient]] = {
    EventBridgeFormat.kind: EventBridgeClient,
    PubSubFormat.kind: PubSubClient,
    EventGridFormat.kind: EventGridClient,
}


def payload_format(settings: ClientSettings) -> PayloadFormat:
    """The payload format for a provider config."""
    return PAYLOAD_FORMATS[settings.kind](settings.options)


def build_client(settings: ClientSettings, *, mode: str) -> ProviderClient:
    """A client for the config in the given effective mode ("demo" or "production")."""
    if mode == "production":
        return PRODUCTION_CLIENTS[settings.kind](settings, payload_format(settings))
    return DemoClient(settings, payload_format(settings))
