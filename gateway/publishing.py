"""Accepting through the API: the key's scope and production grant, the input gate and the
routes, then the request written to the accept log in one transaction (a batch is all or
nothing); a worker expands it into events and deliveries (gateway/expansion.py)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.db import transaction

from core.badges import plural
from events.models import Event, Route
from events.services.publishing import EventSpec, routed_providers, validated_events
from events.services.validation import PublishRejected
from providers.models import ProviderConfig
from providers.production import production_names

from .catalog import catalog
from .expansion import event_fields, ring_expansion, waiting_events
from .incoming import Incoming
from .keys import record_production_use
from .models import AcceptedRequest, ApiEvent, ApiKey


class Refused(Exception):
    """The request is refused with an HTTP status; nothing was created. `reasons` say why."""

    def __init__(self, status: int, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.status = status
        self.reasons = reasons


@dataclass(frozen=True)
class Answer:
    """One event of the request: the event (unsaved while its request waits for expansion),
    whether this request found it rather than made it, and whether it is stored yet."""

    event: Event
    reused: bool
    stored: bool


def accept(key: ApiKey, incoming: Sequence[Incoming], *, remote_addr: str | None) -> list[Answer]:
    """Accept what a request carries, or raise Refused (400, 403, 409, 422) keeping nothing.

    Every check runs here (the input gate, routing, the key's scope and production grant); what
    passes is written to the accept log (one `AcceptedRequest`, its `ApiEvent`s) with the event
    ids it will have, and a worker expands it into events and deliveries (gateway/expansion.py).

    A CloudEvent this key sent before (same source and id) answers with that event, reused; a
    CloudEvent id that is a UUID becomes the event id unless another event has it already (then
    the event gets an id of its own, as a CloudEvent id that is not a UUID does)."""
    answers: list[Answer | None] = [None] * len(incoming)
    groups: dict[tuple, list[tuple[int, EventSpec]]] = defaultdict(list)
    targets: dict[tuple, tuple[list[ProviderConfig], dict[int, Route]]] = {}
    specs = _own_event_ids(key, incoming, [_spec(item) for item in incoming])
    chosen = _destinations(key, incoming, specs)
    earlier = _sent_before(key, incoming)
    first_of: dict[tuple[str, str], int] = {}
    repeats: dict[int, int] = {}
    for index, item in enumerate(incoming):
        sent = (item.source, item.cloudevent_id) if item.cloudevent_id else None
        if sent in earlier:
            answers[index] = earlier[sent]
            continue
        if sent is not None and sent in first_of:  # the same CloudEvent twice in one request
            repeats[index] = first_of[sent]
            continue
        if sent is not None:
            first_of[sent] = index
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
        if planned:
            accepted = AcceptedRequest.objects.create(
                api_key=key,
                remote_addr=remote_addr,
                groups=[
                    {
                        "providers": [c.pk for c in configs],
                        "routes": {str(pk): route.pk for pk, route in routes.items()},
                        "events": [event_fields(event) for event in events],
                    }
                    for configs, routes, _, events in planned
                ],
            )
            made: list[ApiEvent] = []
            for configs, _, numbered, events in planned:
                for (index, _), event in zip(numbered, events, strict=True):
                    answers[index] = Answer(event, reused=False, stored=False)
                    made.append(
                        ApiEvent(
                            event_id=event.pk,
                            api_key=key,
                            request=accepted,
                            source=event.source,
                            cloudevent_id=event.cloudevent_id,
                            remote_addr=remote_addr,
                        )
                    )
                if names := production_names(configs):
                    record_production_use(key, names, len(events), remote_addr=remote_addr)
            ApiEvent.objects.bulk_create(made)
            ring_expansion()
    for index, first in repeats.items():
        answers[index] = replace(answers[first], reused=True)  # type: ignore[type-var]
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
    current = catalog(getattr(key, "catalog_stamp", None))
    named = {name for item in incoming for name in item.providers or []}
    # A name this key may not use gets the same answer whether or not a config has it, so a key
    # cannot list the deployment's config names.
    unknown = {name for name in named if name not in current.configs}
    chosen = []
    unrouted = 0
    for item, spec in zip(incoming, specs, strict=True):
        if item.providers:
            names = [name for name in dict.fromkeys(item.providers) if name in current.configs]
            chosen.append(([current.configs[name] for name in names], {}))
            continue
        configs, routes = routed_providers(spec, current.routes)
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
    allowed = current.scope_of(key)
    outside = sorted(unknown | {c.name for configs, _ in chosen for c in configs if c.pk not in allowed})
    if outside:
        raise Refused(403, [f"The API key {key.name} may not publish to: {', '.join(outside)}."])
    every = list({c.pk: c for configs, _ in chosen for c in configs}.values())
    if not key.allow_production and (names := production_names(every)):
        raise Refused(403, [f"{names}: in production, and the API key {key.name} may not send to production."])
    return chosen


def _own_event_ids(key: ApiKey, incoming: Sequence[Incoming], specs: list[EventSpec]) -> list[EventSpec]:
    """The specs with each UUID CloudEvent id kept as the event id where it is free; 409 when it
    names another of this key's own events (another source); an id that another key, the console
    or an earlier request of another sender holds is not this key's to know: a fresh id instead."""
    wanted = {spec.event_id for spec in specs if spec.event_id is not None}
    if not wanted:
        return specs
    taken = set(Event.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    taken |= set(ApiEvent.objects.filter(event_id__in=wanted).values_list("event_id", flat=True))
    own = dict(ApiEvent.objects.filter(api_key=key, event_id__in=taken).values_list("event_id", "source").iterator())
    claimed: set = set()
    for index, (item, spec) in enumerate(zip(incoming, specs, strict=True)):
        if spec.event_id is None:
            continue
        if spec.event_id in own and own[spec.event_id] != item.source:
            raise Refused(409, [f"The event id {spec.event_id} is already used by another of this key's events."])
        if (spec.event_id in taken and spec.event_id not in own) or spec.event_id in claimed:
            specs[index] = replace(spec, event_id=None)
        claimed.add(spec.event_id)
    return specs


def _sent_before(key: ApiKey, incoming: Sequence[Incoming]) -> dict[tuple[str, str], Answer]:
    """The events this key's CloudEvents (by source and id) already are, read at once: stored, or
    still waiting in the accept log."""
    wanted = {
        (item.source, item.cloudevent_id) for item in incoming if item.cloudevent_id and isinstance(item.source, str)
    }
    if not wanted:
        return {}
    rows = ApiEvent.objects.filter(api_key=key, cloudevent_id__in={ce_id for _, ce_id in wanted}).values_list(
        "source", "cloudevent_id", "event_id", "request_id"
    )
    found = {
        (source, ce_id): (event_id, request) for source, ce_id, event_id, request in rows if (source, ce_id) in wanted
    }
    stored = Event.objects.in_bulk([event_id for event_id, _ in found.values()])
    waiting = waiting_events({request for event_id, request in found.values() if event_id not in stored})
    answers = {}
    for pair, (event_id, _) in found.items():
        if event_id in stored:
            answers[pair] = Answer(stored[event_id], reused=True, stored=True)
        elif event_id in waiting:
            answers[pair] = Answer(waiting[event_id], reused=True, stored=False)
    return answers
