"""Accepting through the API: the request translated into the publish service's one request (the
key's scope and production grant) and planned there (routes, grant, input gate), then written
to the accept log in one transaction (a batch is all or nothing); a worker expands it into
events and deliveries (gateway/expansion.py)."""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.db import transaction

from core import tracing
from core.badges import plural
from events.models import Event
from events.services.publishing import EventSpec, PlannedGroup, PublishRequest, event_attributes, plan
from events.services.validation import PublishRejected, Refusal
from providers.production import ProductionGrant, production_names

from .accept_log import write_request
from .catalog import Catalog, catalog
from .expansion import event_fields, waiting_events
from .incoming import Incoming
from .keys import record_production_use
from .models import ApiEvent, ApiKey


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


#: The HTTP status of each of the publish service's refusals.
STATUS_OF = {
    Refusal.INVALID: 400,
    Refusal.UNROUTED: 422,
    Refusal.OUT_OF_SCOPE: 403,
    Refusal.PRODUCTION: 403,
}


def accept(key: ApiKey, incoming: Sequence[Incoming], *, remote_addr: str | None) -> list[Answer]:
    """Accept what a request carries, or raise Refused (400, 403, 409, 422) keeping nothing.

    The request is translated into one `PublishRequest` (the key's scope, its production grant)
    and planned by the publish service every way in shares (routing, the grant, the input gate);
    what passes is written to the accept log (one `AcceptedRequest`, its `ApiEvent`s) with the
    event ids it will have, and a worker creates it (gateway/expansion.py).

    A CloudEvent this key sent before (same source and id) answers with that event, reused; a
    CloudEvent id that is a UUID becomes the event id unless another event has it already (then
    the event gets an id of its own, as a CloudEvent id that is not a UUID does)."""
    current = catalog(getattr(key, "catalog_stamp", None))
    scope = current.scope_of(key)
    specs = _own_event_ids(key, incoming, _specs(key, incoming, current, scope))
    answers: list[Answer | None] = [None] * len(incoming)
    earlier = _sent_before(key, incoming)
    first_of: dict[tuple[str, str], int] = {}
    repeats: dict[int, int] = {}
    new: list[int] = []
    for index, item in enumerate(incoming):
        sent = (item.source, item.cloudevent_id) if item.cloudevent_id else None
        if sent in earlier:
            answers[index] = earlier[sent]
        elif sent is not None and sent in first_of:  # the same CloudEvent twice in one request
            repeats[index] = first_of[sent]
        else:
            new.append(index)
            if sent is not None:
                first_of[sent] = index
    request = PublishRequest(
        events=[specs[index] for index in new],
        grant=ProductionGrant.standing(f"the API key {key.name}", held=key.allow_production),
        scope=scope,
        publisher=f"The API key {key.name}",
        labels=[f"event {index + 1}" if len(incoming) > 1 else "the event" for index in new],
        routes=current.routes,
    )
    with tracing.span("accept", attributes={"helios.event.count": len(incoming)}) as current:
        try:
            groups = plan(request)
        except PublishRejected as rejected:
            raise Refused(STATUS_OF[rejected.refusal], _reasons(rejected, len(incoming))) from None
        current.set_attributes(event_attributes([event for group in groups for event in group.events]))
    with transaction.atomic(savepoint=False):  # the request's transaction, when there is one
        if groups:
            _write_accept_log(
                key, groups, [new[index] for group in groups for index in group.indexes], answers, remote_addr
            )
    for index, first in repeats.items():
        answers[index] = replace(answers[first], reused=True)  # type: ignore[type-var]
    return [answer for answer in answers if answer is not None]


def _write_accept_log(
    key: ApiKey,
    groups: Sequence[PlannedGroup],
    places: Sequence[int],
    answers: list[Answer | None],
    remote_addr: str | None,
) -> None:
    """The accepted request for the planned groups with its events (at `places` in the request,
    in the groups' order), the production audit, and the worker's bell (gateway/accept_log.py)."""
    events = [event for group in groups for event in group.events]
    for place, event in zip(places, events, strict=True):
        answers[place] = Answer(event, reused=False, stored=False)
    for group in groups:
        if names := production_names(group.configs):
            record_production_use(key, names, len(group.events), remote_addr=remote_addr)
    logged = [
        {
            "providers": [c.pk for c in group.configs],
            "routes": {str(pk): route.pk for pk, route in group.routes.items()},
            "events": [event_fields(event) for event in group.events],
        }
        for group in groups
    ]
    write_request(key, logged, events, remote_addr)


def _reasons(rejected: PublishRejected, events: int) -> list[str]:
    """The publish service's refusal in the API's words."""
    if rejected.refusal != Refusal.UNROUTED:
        return rejected.errors
    which = "the event" if events == 1 else plural(len(rejected.errors), "event")
    return [
        f"No route matches {which} and it names no provider config: name them (`providers`, or the "
        "CloudEvents extension `heliosproviders`) or ask an Admin for a route."
    ]


def _specs(key: ApiKey, incoming: Sequence[Incoming], current: Catalog, scope: frozenset[int]) -> list[EventSpec]:
    """The items as EventSpecs, their named configs among those the key sees. A name outside the
    key's scope gets the same answer whether or not a config has it (403, every such name of the
    request listed), so a key cannot list the deployment's config names."""
    visible = {name: config for name, config in current.configs.items() if config.pk in scope}
    named = {name for item in incoming for name in item.providers or []}
    if hidden := sorted(named - visible.keys()):
        raise Refused(403, [f"The API key {key.name} may not publish to: {', '.join(hidden)}."])
    return [
        EventSpec(
            event_type=item.event_type,
            source=item.source,
            subject=item.subject if item.subject is not None else "",
            data=item.data,
            event_id=item.event_id,
            cloudevent_id=item.cloudevent_id,
            providers=tuple(visible[name] for name in dict.fromkeys(item.providers or [])),
        )
        for item in incoming
    ]


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
