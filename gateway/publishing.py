"""Publishing through the API: the key's scope and production grant, the input gate, then every
event of the request created in one transaction (a batch is all or nothing)."""

from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Exists, OuterRef

from core.audit import Actor
from core.badges import plural
from events.models import Event, Route
from events.services.publishing import EventSpec, Published, create_events, routed_providers, validated_events
from events.services.validation import PublishRejected
from providers.models import ProviderConfig
from providers.services import production_names

from .incoming import Incoming
from .keys import record_production_use
from .models import ApiKey


class Refused(Exception):
    """The request is refused with an HTTP status; nothing was created. `reasons` say why."""

    def __init__(self, status: int, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.status = status
        self.reasons = reasons


def accept(key: ApiKey, incoming: Sequence[Incoming], *, remote_addr: str | None) -> list[Published]:
    """Publish what a request carries, or raise Refused (400, 403, 409, 422) creating nothing."""
    answers: list[Published | None] = [None] * len(incoming)
    groups: dict[tuple, list[tuple[int, EventSpec]]] = defaultdict(list)
    targets: dict[tuple, tuple[list[ProviderConfig], dict[int, Route]]] = {}
    specs = [_spec(item) for item in incoming]
    chosen = _destinations(key, incoming, specs)
    for index, item in enumerate(incoming):
        if found := _sent_before(item):
            answers[index] = Published(found, reused=True)
            continue
        configs, routes = chosen[index]
        group = tuple((c.pk, routes[c.pk].pk if c.pk in routes else None) for c in configs)
        groups[group].append((index, specs[index]))
        targets[group] = (configs, routes)
    errors: list[str] = []
    planned = []
    for group, numbered in groups.items():
        configs, routes = targets[group]
        labels = [f"event {index + 1}" if len(incoming) > 1 else "the event" for index, _ in numbered]
        try:
            events = validated_events([spec for _, spec in numbered], configs, actor=None, labels=labels)
        except PublishRejected as rejected:
            errors += rejected.errors
            continue
        planned.append((configs, routes, numbered, events))
    if errors:
        raise Refused(400, errors)
    with transaction.atomic(savepoint=False):  # the request's transaction, when there is one
        for configs, routes, numbered, events in planned:
            # The audit says where the request came from (not "cli"); the key is named in the trail's
            # production entries.
            create_events(events, configs, ring=True, actor=Actor(remote_addr=remote_addr), routes=routes)
            for (index, _), event in zip(numbered, events, strict=True):
                answers[index] = Published(event, reused=False)
            if names := production_names(configs):
                record_production_use(key, names, len(events), remote_addr=remote_addr)
    return [answer for answer in answers if answer is not None]


def _spec(item: Incoming) -> EventSpec:
    return EventSpec(
        event_type=item.event_type,
        source=item.source,
        subject=item.subject if item.subject is not None else "",
        data=item.data,
        event_id=item.event_id,
        cloudevent_id=item.cloudevent_id,
    )


def _destinations(
    key: ApiKey, incoming: Sequence[Incoming], specs: Sequence[EventSpec]
) -> list[tuple[list[ProviderConfig], dict[int, Route]]]:
    """Each event's provider configs (named, or else routed) and the route that chose each; all
    known, within the key's scope, and in production only with the key's grant."""
    named = {name for item in incoming for name in item.providers or []}
    in_scope = ApiKey.providers.through.objects.filter(apikey_id=key.pk, providerconfig_id=OuterRef("pk"))
    known = (
        {c.name: c for c in ProviderConfig.objects.filter(name__in=named).annotate(in_scope=Exists(in_scope))}
        if named
        else {}
    )
    unknown = sorted(named - set(known))
    if unknown:
        raise Refused(400, [f"Unknown provider config(s): {', '.join(unknown)}."])
    chosen = []
    unrouted = 0
    enabled_routes = None
    for item, spec in zip(incoming, specs, strict=True):
        if item.providers:
            chosen.append(([known[name] for name in dict.fromkeys(item.providers)], {}))
            continue
        if enabled_routes is None:  # read once per request, whatever the batch's size
            enabled_routes = list(Route.objects.filter(enabled=True).prefetch_related("providers"))
        configs, routes = routed_providers(spec, enabled_routes)
        unrouted += not configs
        chosen.append((configs, routes))
    if unrouted:
        which = "the event" if len(incoming) == 1 else plural(unrouted, "event")
        raise Refused(
            422,
            [
                f"No route matches {which} and it names no provider config: name them (`providers`, or the "
                "CloudEvents extension `heliosproviders`) or ask an Admin for a route."
            ],
        )
    allowed = {c.pk for c in known.values() if c.in_scope}
    if enabled_routes is not None:  # routed configs came without the key's scope
        allowed = set(key.providers.values_list("pk", flat=True))
    outside = sorted({c.name for configs, _ in chosen for c in configs if c.pk not in allowed})
    if outside:
        raise Refused(403, [f"The API key {key.name} may not publish to: {', '.join(outside)}."])
    every = list({c.pk: c for configs, _ in chosen for c in configs}.values())
    if not key.allow_production and (names := production_names(every)):
        raise Refused(403, [f"{names}: in production, and the API key {key.name} may not send to production."])
    return chosen


def _sent_before(item: Incoming) -> Event | None:
    """The event a CloudEvent sent again (same source and id) already is, if any."""
    if not item.cloudevent_id or not isinstance(item.source, str):
        return None
    if item.event_id is not None:
        found = Event.objects.filter(pk=item.event_id).first()
        if found is not None and (found.source != item.source or found.cloudevent_id != item.cloudevent_id):
            raise Refused(409, [f"The event id {item.event_id} is already used by another event."])
        return found
    return Event.objects.filter(source=item.source, cloudevent_id=item.cloudevent_id).first()
