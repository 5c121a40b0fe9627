"""Expansion: the worker turns accepted API requests (the accept log) into events and deliveries.

An accepted request already holds everything: the events with their ids, where each goes and
which route chose it (gateway/publishing.py wrote it after every check). Expansion claims waiting
requests (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serializes writers), creates their events
and deliveries a set at a time (requests going to the same configs, by the same routes, from the
same address share one insert of events and one of deliveries) and stamps the requests expanded,
all in one transaction: a crash leaves them waiting, never half made, so expansion is
idempotent. After the commit the same task sends what it made (no second task hop). An accept
queues a task unless one is queued and not started yet (the bell, gateway/accept_log.py: one
task expands what many requests accepted); the minute's schedule (`helios-expand-accepted`)
expands whatever a lost task left.
"""

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.audit import Actor
from events.models import Event, Route
from events.services.doorbell import ring_doorbell
from events.services.publishing import create_events
from events.services.sending import send_due
from providers.models import ProviderConfig

from .models import AcceptedRequest

logger = logging.getLogger(__name__)

#: Requests one transaction expands.
CLAIM_LIMIT = 200
#: How long the expansion task sends one config's new deliveries before handing over to a task.
SEND_BUDGET_SECONDS = 5.0


def event_fields(event: Event) -> dict[str, Any]:
    """What the accept log keeps of a validated, unsaved event."""
    return {
        "id": str(event.pk),
        "type": event.type,
        "source": event.source,
        "subject": event.subject,
        "data": event.data,
        "cloudevent_id": event.cloudevent_id,
        "created_at": event.created_at.isoformat(),
        "traceparent": event.traceparent,
        "tracestate": event.tracestate,
    }


def event_from_fields(fields: dict[str, Any]) -> Event:
    """The unsaved event the accept log describes."""
    return Event(
        id=uuid.UUID(fields["id"]),
        type=fields["type"],
        source=fields["source"],
        subject=fields["subject"],
        data=fields["data"],
        cloudevent_id=fields["cloudevent_id"],
        created_at=parse_datetime(fields["created_at"]),
        traceparent=fields.get("traceparent", ""),  # requests accepted before tracing have none
        tracestate=fields.get("tracestate", ""),
    )


def expand_accepted(*, limit: int = CLAIM_LIMIT, budget_seconds: float | None = None, send: bool = False) -> int:
    """Expand waiting requests, `limit` per transaction, until none waits (or the time budget is
    spent: the next task or the schedule goes on); how many were expanded.

    With `send` (the worker's task), what each transaction made is sent by this task at once,
    saving the second task hop (expansion, then a send task per config): at half the end-to-end
    bench's rate that cut the latency HELIOS adds by about 45 % (docs/scaling.md). Each config's
    send has a budget and hands over to a send task when it is spent (send_due rings); a crash
    after the commit leaves due deliveries the sweeper rings for. Without `send`, the doorbells
    are rung in the expanding transaction."""
    deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
    expanded = 0
    while True:
        claimed, provider_ids = _expand_some(limit, ring=not send)
        if not claimed:
            break
        expanded += claimed
        for provider_id in sorted(provider_ids) if send else ():
            left = SEND_BUDGET_SECONDS if deadline is None else min(SEND_BUDGET_SECONDS, deadline - time.monotonic())
            if left > 0:
                send_due(provider_id=provider_id, time_budget_seconds=left)
            else:
                ring_doorbell(provider_id)  # out of time: a send task takes over
        if deadline is not None and time.monotonic() > deadline:
            break
    return expanded


def _expand_some(limit: int, *, ring: bool) -> tuple[int, set[int]]:
    with transaction.atomic():
        waiting = (
            AcceptedRequest.objects.filter(expanded_at__isnull=True)
            .select_related("api_key")
            .order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        requests = list(waiting)
        if not requests:
            return 0, set()
        configs = ProviderConfig.objects.in_bulk({pk for r in requests for g in r.groups for pk in g["providers"]})
        routes = Route.objects.in_bulk({pk for r in requests for g in r.groups for pk in g["routes"].values()})
        sets: dict[tuple, list[Event]] = defaultdict(list)
        for accepted in requests:
            for group in accepted.groups:
                key = (
                    tuple(group["providers"]),
                    tuple(sorted(group["routes"].items())),
                    accepted.remote_addr,
                    accepted.api_key.name,
                )
                sets[key] += [event_from_fields(fields) for fields in group["events"]]
        for (provider_ids, route_ids, remote_addr, key_name), events in sets.items():
            providers = [configs[pk] for pk in provider_ids if pk in configs]
            if len(providers) < len(provider_ids):
                logger.warning("expansion: a provider config was deleted after its request was accepted")
            if not providers:
                continue
            chosen = {int(pk): routes[route] for pk, route in route_ids if route in routes}
            create_events(
                events,
                providers,
                ring=ring,
                actor=Actor(remote_addr=remote_addr, via=f"API key {key_name}"),
                routes=chosen,
            )
        AcceptedRequest.objects.filter(pk__in=[r.pk for r in requests]).update(expanded_at=timezone.now())
    return len(requests), {pk for provider_ids, *_ in sets for pk in provider_ids if pk in configs}


def forget_expanded(*, batch_size: int = 1000) -> int:
    """Remove expanded requests older than HELIOS_API_IDEMPOTENCY_HOURS (their events live on;
    the API's CloudEvent deduplication keeps to `ApiEvent`), in small batches; how many."""
    since = timezone.now() - timedelta(hours=settings.HELIOS_API_IDEMPOTENCY_HOURS)
    old = AcceptedRequest.objects.filter(expanded_at__lt=since).order_by("pk")
    removed = 0
    while ids := list(old.values_list("pk", flat=True)[:batch_size]):
        removed += AcceptedRequest.objects.filter(pk__in=ids).delete()[0]
    return removed


def waiting() -> tuple[int, datetime | None]:
    """Accepted requests not yet expanded: how many, and when the oldest was accepted."""
    found = AcceptedRequest.objects.filter(expanded_at__isnull=True).aggregate(n=Count("pk"), oldest=Min("accepted_at"))
    return found["n"], found["oldest"]


def waiting_events(request_ids: Iterable[int]) -> dict[uuid.UUID, Event]:
    """The events of these accepted requests that are not expanded yet, unsaved, by id."""
    found = {}
    for groups in AcceptedRequest.objects.filter(pk__in=set(request_ids), expanded_at__isnull=True).values_list(
        "groups", flat=True
    ):
        for group in groups:
            for fields in group["events"]:
                event = event_from_fields(fields)
                found[uuid.UUID(fields["id"])] = event
    return found
