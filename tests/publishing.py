"""Publishing in tests' setup: the publish service's one request, built from keyword arguments.

The setup publishes as a trusted publisher (a standing production grant): the production rule
itself is tested where it is the subject (test_console_compose, test_publish_command, the API's)."""

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from events.models import Event, EventTemplate
from events.services.publishing import EventSpec, Published, PublishRequest, publish
from providers.models import ProviderConfig
from providers.production import ProductionGrant

TRUSTED = ProductionGrant.standing("the test setup", held=True)


def publish_specs(
    specs: Sequence[EventSpec],
    providers: Sequence[ProviderConfig],
    *,
    ring: bool = True,
    idempotency_key: str | None = None,
) -> list[Published]:
    """Publish the specs to the providers as one request."""
    events = [replace(spec, providers=tuple(providers)) for spec in specs]
    return publish(PublishRequest(events=events, grant=TRUSTED, idempotency_key=idempotency_key), ring=ring)


def publish_event(
    *,
    event_type: str,
    source: str,
    data: Any,
    providers: Sequence[ProviderConfig],
    subject: str = "",
    template: EventTemplate | None = None,
    ring: bool = True,
) -> Event:
    """Publish one event to the providers; the created event."""
    spec = EventSpec(event_type=event_type, source=source, data=data, subject=subject, template=template)
    [published] = publish_specs([spec], providers, ring=ring)
    return published.event
