"""Routes: which provider configs an event goes to when its sender names none.

Routing is decided once, when the event is published, by each enabled route's filter in the
route's order (the dialects are in `route_filters`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .models import Route
from .route_filters import matches


@dataclass(frozen=True)
class Routed:
    """An enabled route an event matches, and the provider configs it sends to."""

    route: Route
    providers: list


def route(event: Mapping[str, Any], routes: Sequence[Route] | None = None) -> list[Routed]:
    """The enabled routes the event matches, in their order, with their enabled provider configs."""
    candidates = routes if routes is not None else Route.objects.filter(enabled=True).prefetch_related("providers")
    return [
        Routed(r, [p for p in r.providers.all() if p.enabled])
        for r in candidates
        if r.enabled and matches(r.filter, event)
    ]
