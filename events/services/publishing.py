"""Publishing: one request (`PublishRequest`) from every way in, routed, authorised and checked
through the input gate (`plan`), then created with its deliveries, audit entry and doorbell
rings in one transaction (`publish`); the API accepts a planned request into its accept log
instead, and a worker creates it later (gateway/expansion.py)."""

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import audit, tracing
from core.audit import Actor
from core.models import AuditAction
from providers.clients.base import OutgoingEvent
from providers.live_clients import event_limits
from providers.models import ProviderConfig
from providers.modes import effective_mode
from providers.production import NO_GRANT, ProductionGrant, production_names

from .. import stats
from ..models import (
    BulkUpload,
    Delivery,
    DeliveryStatus,
    Event,
    EventTemplate,
    Route,
)
from ..routing import route
from .doorbell import ring_doorbells
from .rows import insert_rows, prepared_values
from .validation import PublishRejected, Refusal, data_problems, envelope_problems, schema_problems

logger = logging.getLogger(__name__)


def outgoing_event(event: Event) -> OutgoingEvent:
    """The plain value a provider client receives for an event."""
    return OutgoingEvent(
        id=str(event.id),
        type=event.type,
        source=event.source,
        subject=event.subject,
        time=event.created_at,
        data=event.data,
        traceparent=event.traceparent,
        tracestate=event.tracestate,
    )


@dataclass(frozen=True)
class EventSpec:
    """What to publish: one event's type, source, data and subject, and where it goes."""

    event_type: str
    source: str
    data: Any
    subject: str = ""
    template: EventTemplate | None = None
    #: The event's id when the caller gives one (a CloudEvent's UUID id); else a new UUID.
    event_id: uuid.UUID | None = None
    #: The id the event had as a CloudEvent (kept as given, UUID or not).
    cloudevent_id: str = ""
    #: The provider configs the sender named; none: the enabled routes decide.
    providers: tuple[ProviderConfig, ...] = ()


@dataclass(frozen=True)
class PublishRequest:
    """One publish, whichever way it came in (console, CLI, bulk, API): the events, who publishes,
    what allows production, and an idempotency key. Each way in only translates its input into
    this and the refusal back into its own words (a form field, an exit status, an HTTP status)."""

    events: Sequence[EventSpec]
    actor: Actor | None = None
    #: What allows a send to production configs: a typed confirmation or a standing grant.
    grant: ProductionGrant = NO_GRANT
    #: The configs the publisher may use (None: every one), and its name in the refusal.
    scope: frozenset[int] | None = None
    publisher: str = ""
    #: At most once per key (a request of one event): a key used before returns that event.
    idempotency_key: str | None = None
    #: How refusals name each event (default "event N", 1-based).
    labels: Sequence[str] | None = None
    #: The enabled routes with their configs, when the caller has them read already.
    routes: Sequence[Route] | None = None


@dataclass(frozen=True)
class PlannedGroup:
    """Events of a request that go to the same configs by the same routes, validated, unsaved."""

    configs: list[ProviderConfig]
    #: Which route chose each config (config id → route), when routes chose.
    routes: dict[int, Route]
    #: Each event's place in the request, in the order of `events`.
    indexes: list[int]
    events: list[Event]


@dataclass(frozen=True)
class Published:
    """One event of a publish: the event, and whether it existed already."""

    event: Event
    #: True when an earlier event with the same idempotency key was returned: nothing was
    #: created or sent again.
    reused: bool


def destinations(
    spec: EventSpec, routes: Sequence[Route] | None = None
) -> tuple[list[ProviderConfig], dict[int, Route]]:
    """Where an event goes: the configs it names, else where the enabled routes send it (each
    config once, in route order) with the first route that chose each. `routes`: the enabled
    routes with their configs, when the caller routes many events (read once). An event whose
    type, source or subject is not text routes nowhere (the input gate says why)."""
    if spec.providers:
        return list(spec.providers), {}
    chosen: dict[int, Route] = {}
    configs: list[ProviderConfig] = []
    if not all(isinstance(text, str) for text in (spec.event_type, spec.source, spec.subject)):
        return configs, chosen  # routes read text attributes: the input gate refuses the rest
    fields = {"type": spec.event_type, "source": spec.source, "subject": spec.subject, "data": spec.data}
    for routed in route(fields, routes):
        for config in routed.providers:
            if config.pk not in chosen:
                chosen[config.pk] = routed.route
                configs.append(config)
    return configs, chosen


def plan(request: PublishRequest) -> list[PlannedGroup]:
    """Route, authorise and validate a request, creating nothing: its events grouped by where
    they go. Raises PublishRejected with the first rule that refuses, in this order: an event
    that goes nowhere (UNROUTED), a config outside the publisher's scope (OUT_OF_SCOPE), a
    production config without the grant (PRODUCTION), then every event's problems (INVALID)."""
    labels = request.labels or _default_labels(len(request.events))
    chosen = [destinations(spec, request.routes) for spec in request.events]
    if unrouted := [label for label, (configs, _) in zip(labels, chosen, strict=True) if not configs]:
        errors = [
            f"{label}: no route matches it and it names no provider config."
            if label
            else "No route matches this event and it names no provider config."
            for label in unrouted
        ]
        raise PublishRejected(errors, refusal=Refusal.UNROUTED)
    every = list({c.pk: c for configs, _ in chosen for c in configs}.values())
    if request.scope is not None and (outside := sorted(c.name for c in every if c.pk not in request.scope)):
        raise PublishRejected(
            [f"{request.publisher} may not publish to: {', '.join(outside)}."], refusal=Refusal.OUT_OF_SCOPE
        )
    if problem := request.grant.problem(every):
        raise PublishRejected([problem], refusal=Refusal.PRODUCTION, production_names=production_names(every))
    traced = tracing.current_context()  # every event is made in the span that plans it
    grouped: dict[tuple, list[int]] = defaultdict(list)
    for index, (configs, routes) in enumerate(chosen):
        grouped[tuple((c.pk, routes[c.pk].pk if c.pk in routes else None) for c in configs)].append(index)
    groups, errors = [], []
    for indexes in grouped.values():
        configs, routes = chosen[indexes[0]]
        limits = [(config, event_limits(config)) for config in configs]
        events = []
        for index in indexes:
            try:
                events.append(_validated_event(request.events[index], limits, request, traced))
            except PublishRejected as rejected:
                errors += [_labelled(labels[index], error) for error in rejected.errors]
        groups.append(PlannedGroup(configs, routes, indexes, events))
    if errors:
        raise PublishRejected(errors)
    return groups


def publish(request: PublishRequest, *, ring: bool = True) -> list[Published]:
    """Plan the request (see `plan`), then create its events, deliveries, audit entries and
    doorbell rings in one transaction: all or nothing. With `ring=False` no task is queued (the
    caller sends, e.g. `publish --sync`).

    With an idempotency key, a key already used returns that earlier event, creating and sending
    nothing (also when a concurrent publish wins the race)."""
    origin = request.actor.origin() if request.actor else "CLI"
    attributes = {"helios.event.count": len(request.events), "helios.origin": origin}
    with tracing.span("publish", attributes=attributes) as current:
        published = _publish(request, ring=ring)
        current.set_attributes(event_attributes([p.event for p in published]))
    return published


def event_attributes(events: Sequence[Event]) -> dict[str, Any]:
    """A span's attributes naming the events it made or sent (the first 100 ids)."""
    ids = [str(event.pk) for event in events[:100]]
    return {"helios.event.id": ids[0]} if len(ids) == 1 else {"helios.event.ids": ids}


def _publish(request: PublishRequest, *, ring: bool) -> list[Published]:
    key = request.idempotency_key
    if key is not None:
        if len(request.events) != 1:
            raise PublishRejected([f"An idempotency key names one event; this request has {len(request.events)}."])
        if problems := envelope_problems(event_type="-", source="-", idempotency_key=key):
            raise PublishRejected(problems)
        if (existing := Event.objects.filter(idempotency_key=key).first()) is not None:
            return [Published(existing, reused=True)]
    groups = plan(request)
    try:
        create_planned(groups, actor=request.actor, ring=ring)
    except IntegrityError:
        if key is None:
            raise
        return [Published(Event.objects.get(idempotency_key=key), reused=True)]
    placed = {index: event for group in groups for index, event in zip(group.indexes, group.events, strict=True)}
    return [Published(placed[index], reused=False) for index in range(len(request.events))]


def create_planned(
    groups: Sequence[PlannedGroup], *, actor: Actor | None, ring: bool = True, bulk_upload: BulkUpload | None = None
) -> None:
    """Create a planned request's events, deliveries, audit entries and doorbell rings in one
    transaction (see `create_events`)."""
    with transaction.atomic():
        for group in groups:
            create_events(
                group.events, group.configs, ring=ring, actor=actor, routes=group.routes, bulk_upload=bulk_upload
            )


def _default_labels(count: int) -> list[str]:
    """ "event N" (1-based) for each event of a request of many; none for a single event."""
    return [""] if count == 1 else [f"event {number}" for number in range(1, count + 1)]


def _labelled(label: str, problem: str) -> str:
    """A problem prefixed by its event's label, when it has one."""
    return f"{label}: {problem}" if label else problem


def _validated_event(
    spec: EventSpec,
    limits: Sequence[tuple[ProviderConfig, Callable[[OutgoingEvent], list[str]]]],
    request: PublishRequest,
    traced: Mapping[str, str],
) -> Event:
    """An unsaved event, once it passes every check and fits every provider's limits (`limits`:
    each provider with its `event_limits`); `traced`: the W3C trace context it is created in."""
    errors = envelope_problems(event_type=spec.event_type, source=spec.source, subject=spec.subject)
    problems = data_problems(spec.data)
    errors += problems
    if not problems and spec.template is not None and spec.template.json_schema:
        errors += [
            f"Template {spec.template.name}: {problem}"
            for problem in schema_problems(spec.template.json_schema, spec.data)
        ]
    errors += [f"{p.name} is disabled; enable it before publishing to it." for p, _ in limits if not p.enabled]
    if errors:
        raise PublishRejected(errors)
    event = Event(
        id=spec.event_id or uuid.uuid4(),
        cloudevent_id=spec.cloudevent_id,
        type=spec.event_type,
        source=spec.source,
        subject=spec.subject,
        data=spec.data,
        created_by=request.actor.account if request.actor else None,
        created_at=timezone.now(),
        idempotency_key=request.idempotency_key or None,
        traceparent=traced.get("traceparent", ""),
        tracestate=traced.get("tracestate", ""),
    )
    outgoing = outgoing_event(event)
    for provider, problems_of in limits:
        errors += [f"{provider.name}: {problem}" for problem in problems_of(outgoing)]
    if errors:
        raise PublishRejected(errors)
    return event


def create_events(
    events: Sequence[Event],
    providers: Sequence[ProviderConfig],
    *,
    ring: bool,
    actor: Actor | None,
    bulk_upload: BulkUpload | None = None,
    routes: Mapping[int, Route] | None = None,
) -> None:
    """Insert validated events (see `validated_events`), one delivery per provider each, the
    audit entry, and ring once per provider: one transaction. Events of a `bulk_upload` are
    linked to it and audited as one upload; `routes` (provider id → route) records which route
    chose each provider."""
    modes = {provider.pk: effective_mode(provider).mode for provider in providers}
    names = ", ".join(f"{p.name} ({modes[p.pk]})" for p in providers)
    action, target, summary = _publish_audit(events, names, bulk_upload)
    origin = actor.origin()[:200] if actor else "CLI"
    for event in events:
        event.bulk_upload = bulk_upload
        event.created_from = origin
    with transaction.atomic():
        rows = [prepared_values(event) for event in events]
        insert_rows(Event, list(rows[0]) if rows else [], [tuple(row.values()) for row in rows])
        for event in events:  # saved, as bulk_create would have marked them
            event._state.adding, event._state.db = False, connection.alias
        _insert_deliveries(events, providers, modes, routes or {})
        audit.record(
            actor=actor,
            action=action,
            target=target,
            summary=summary,
            details={"events": [str(e.pk) for e in events[:100]], "providers": [p.name for p in providers]},
        )
        # Last, as both lock a row every publish to the provider shares until commit: the hour's
        # rollup, then the doorbell (see ring_doorbells).
        stats.count_created([provider.pk for provider in providers], at=timezone.now(), created=len(events))
        if ring:
            ring_doorbells(provider.pk for provider in providers)


def _insert_deliveries(
    events: Sequence[Event], providers: Sequence[ProviderConfig], modes: Mapping[int, str], routes: Mapping[int, Route]
) -> None:
    """One pending delivery per event and provider, due at once, in one go: each provider's row
    is prepared once as a template (rows.py), only the event and its time differ."""
    event_field, due_field = Delivery._meta.get_field("event"), Delivery._meta.get_field("next_attempt_at")
    rows: list[tuple] = []
    columns: list[str] = []
    for provider in providers:
        template = prepared_values(
            Delivery(
                provider=provider,
                mode=modes[provider.pk],
                status=DeliveryStatus.PENDING,
                route=routes.get(provider.pk),
            )
        )
        columns = list(template)
        at_event, at_due = columns.index(event_field.column), columns.index(due_field.column)
        for event in events:
            row = list(template.values())
            row[at_event] = event_field.get_db_prep_save(event.pk, connection)
            row[at_due] = due_field.get_db_prep_save(event.created_at, connection)
            rows.append(tuple(row))
    insert_rows(Delivery, columns, rows)


def _publish_audit(events: Sequence[Event], names: str, bulk_upload: BulkUpload | None) -> tuple[str, str, str]:
    """The audit entry's action, target and summary for a publish."""
    if bulk_upload is not None:
        what = f"bulk upload #{bulk_upload.pk}"
        how = bulk_upload.get_source_display()
        return AuditAction.BULK_UPLOAD, what, f"{what}: {len(events)} events ({how}) to {names}"
    if len(events) == 1:
        return AuditAction.PUBLISH, f"event {events[0].pk}", f"Published {events[0].type} to {names}"
    return AuditAction.PUBLISH, f"{len(events)} events", f"Published {len(events)} events to {names}"
