"""The compose page's live check: JSON errors, schema problems, and for each chosen provider its
size against the limit and exactly what it would receive (built by the provider's own format)."""

import uuid
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from providers.clients.base import OutgoingEvent
from providers.kinds import payload_format
from providers.live_clients import client_settings
from providers.models import ProviderConfig
from providers.modes import effective_mode

from .models import EventTemplate, Route
from .services.publishing import EventSpec, destinations
from .services.validation import PublishRejected, envelope_problems, parse_data, schema_problems


def compose_preview(
    *,
    event_type: str,
    source: str,
    subject: str,
    raw_data: str,
    providers: Sequence[ProviderConfig],
    template: EventTemplate | None,
) -> dict[str, Any]:
    """Everything the compose page shows while the operator types; nothing is created. With no
    provider chosen, the routes that match the event choose, as they will on send.

    The event id and time in the payloads are placeholders: the real ones are assigned on send
    (same length, so the sizes are exact)."""
    size = len(raw_data.encode("utf-8", "surrogatepass"))
    try:
        data = parse_data(raw_data)
    except PublishRejected as rejected:
        return {"data_error": rejected.errors[0], "data_bytes": size, "providers": []}
    problems = schema_problems(template.json_schema, data) if template and template.json_schema else []
    field_problems = envelope_problems(event_type=event_type, source=source, subject=subject)
    event = OutgoingEvent(
        id=str(uuid.uuid4()), type=event_type, source=source, subject=subject, time=timezone.now(), data=data
    )
    routed = not providers
    routes: dict[int, Route] = {}
    if not field_problems:
        spec = EventSpec(event_type=event_type, source=source, subject=subject, data=data, providers=tuple(providers))
        providers, routes = destinations(spec)
    return {
        "data_error": "",
        "data_bytes": size,
        "envelope_problems": field_problems,
        "schema": template.name if template and template.json_schema else "",
        "schema_problems": problems,
        "routed": routed,
        # No payload can be built from fields the gate refuses (they may not even be text).
        "providers": [] if field_problems else [_provider_preview(c, event, routes.get(c.pk)) for c in providers],
    }


def _provider_preview(config: ProviderConfig, event: OutgoingEvent, route: Route | None) -> dict[str, Any]:
    """One provider's payload, its size against the limit, the limits it breaks, and the route
    that chose it (when routes chose)."""
    fmt = payload_format(client_settings(config))
    payload = fmt.build(event)
    size, limit = fmt.measure(payload)
    return {
        "name": config.name,
        "route": route.name if route else "",
        "kind": config.get_kind_display(),
        "mode": effective_mode(config).mode,
        "bytes": size,
        "limit": limit,
        "percent": round(100 * size / limit, 1),
        "problems": fmt.problems(payload),
        "payload": fmt.preview(payload),
    }
