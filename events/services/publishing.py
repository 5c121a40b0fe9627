"""Publishing: check events through the input gate, then create them, their deliveries, the
audit entry and the doorbell rings in one transaction."""

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.models import AuditAction
from providers.clients.base import OutgoingEvent
from providers.live_clients import check_event
from providers.models import ProviderConfig
from providers.modes import effective_mode

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
from .validation import PublishRejected, data_problems, envelope_problems, schema_problems

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
    )


@dataclass(frozen=True)
class EventSpec:
    """What to publish: one event's type, source, data and subject."""

    event_type: str
    source: str
    data: Any
    subject: str = ""
    template: EventTemplate | None = None
    #: The event's id when the caller gives one (a CloudEvent's UUID id); else a new UUID.
    event_id: uuid.UUID | None = None
    #: The id the event had as a CloudEvent (kept as given, UUID or not).
    cloudevent_id: str = ""


@dataclass(frozen=True)
class Published:
    """What `publish_once` did: the event for the key, and whether it existed already."""

    event: Event
    #: True when an earlier event with the same idempotency key was returned: nothing was
    #: created or sent again.
    reused: bool


def publish_event(
    *,
    event_type: str,
    source: str,
    data: Any,
    providers: Sequence[ProviderConfig],
    subject: str = "",
    template: EventTemplate | None = None,
    actor: Actor | None = None,
    ring: bool = True,
) -> Event:
    """Validate, then create the event, its deliveries and the send tasks in one transaction.

    Raises PublishRejected, creating nothing, when the event breaks any chosen provider's
    limits. With `ring=False` no task is queued (the caller sends, e.g. `publish --sync`).
    """
    spec = EventSpec(event_type=event_type, source=source, data=data, subject=subject, template=template)
    return publish_spec(spec, providers, actor=actor, ring=ring)


def publish_spec(
    spec: EventSpec,
    providers: Sequence[ProviderConfig],
    *,
    actor: Actor | None = None,
    ring: bool = True,
    routes: Mapping[int, Route] | None = None,
) -> Event:
    """`publish_event` for an EventSpec (`routes`: which route chose each provider, if any)."""
    event = _validated_event(spec, providers, actor=actor, idempotency_key=None)
    create_events([event], providers, ring=ring, actor=actor, routes=routes)
    return event


def routed_providers(
    spec: EventSpec, routes: Sequence[Route] | None = None
) -> tuple[list[ProviderConfig], dict[int, Route]]:
    """Where the enabled routes send an event that names no provider config: the configs (each
    once, in route order) and, per config, the first route that chose it. `routes`: the enabled
    routes with their providers, when the caller routes many events (read once). An event whose
    type, source or subject is not text routes nowhere (the input gate says why)."""
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


def publish_once(
    spec: EventSpec,
    providers: Sequence[ProviderConfig],
    *,
    idempotency_key: str,
    actor: Actor | None = None,
    ring: bool = True,
    routes: Mapping[int, Route] | None = None,
) -> Published:
    """Like `publish_event`, at most once per idempotency key: a key already used returns that
    earlier event, creating and sending nothing (also when a concurrent publish wins the race)."""
    key_problems = envelope_problems(event_type="-", source="-", idempotency_key=idempotency_key)
    if key_problems:
        raise PublishRejected(key_problems)
    existing = Event.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return Published(existing, reused=True)
    event = _validated_event(spec, providers, actor=actor, idempotency_key=idempotency_key)
    try:
        create_events([event], providers, ring=ring, actor=actor, routes=routes)
    except IntegrityError:
        return Published(Event.objects.get(idempotency_key=idempotency_key), reused=True)
    return Published(event, reused=False)


def publish_many(
    *,
    specs: Sequence[EventSpec],
    providers: Sequence[ProviderConfig],
    actor: Actor | None = None,
    ring: bool = True,
) -> list[Event]:
    """Publish many events to the same providers in one transaction: all or nothing.

    Raises PublishRejected naming each bad event (1-based) when any is invalid.
    """
    events = validated_events(specs, providers, actor=actor)
    create_events(events, providers, ring=ring, actor=actor)
    return events


def validated_events(
    specs: Sequence[EventSpec],
    providers: Sequence[ProviderConfig],
    *,
    actor: Actor | None,
    labels: Sequence[str] | None = None,
) -> list[Event]:
    """Unsaved events for specs that all pass every check; else PublishRejected with every
    problem, each prefixed by the event's label (default "event N", 1-based)."""
    events, errors = [], []
    for number, spec in enumerate(specs, start=1):
        try:
            events.append(_validated_event(spec, providers, actor=actor))
        except PublishRejected as rejected:
            label = labels[number - 1] if labels else f"event {number}"
            errors += [f"{label}: {error}" for error in rejected.errors]
    if errors:
        raise PublishRejected(errors)
    return events


def _validated_event(
    spec: EventSpec,
    providers: Sequence[ProviderConfig],
    *,
    actor: Actor | None,
    idempotency_key: str | None = None,
) -> Event:
    """An unsaved event, once it passes every check and fits every provider's limits."""
    errors = [] if providers else ["Choose at least one provider."]
    errors += envelope_problems(event_type=spec.event_type, source=spec.source, subject=spec.subject)
    problems = data_problems(spec.data)
    errors += problems
    if not problems and spec.template is not None and spec.template.json_schema:
        errors += [
            f"Template {spec.template.name}: {problem}"
            for problem in schema_problems(spec.template.json_schema, spec.data)
        ]
    errors += [f"{p.name} is disabled; enable it before publishing to it." for p in providers if not p.enabled]
    if errors:
        raise PublishRejected(errors)
    event = Event(
        id=spec.event_id or uuid.uuid4(),
        cloudevent_id=spec.cloudevent_id,
        type=spec.event_type,
        source=spec.source,
        subject=spec.subject,
        data=spec.data,
        created_by=actor.account if actor else None,
        created_at=timezone.now(),
        idempotency_key=idempotency_key or None,
    )
    outgoing = outgoing_event(event)
    for provider in providers:
        errors += [f"{provider.name}: {problem}" for problem in check_event(provider, outgoing)]
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
