"""Read-side queries for the console and the CLI."""

import time
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from .models import FINAL_STATUSES, Delivery, Event


def deliveries_of(event: Event) -> QuerySet[Delivery]:
    """An event's deliveries with their provider, in provider order."""
    return event.deliveries.select_related("provider").order_by("provider__name")


def delivery_status_rows(event: Event) -> list[dict[str, Any]]:
    """Plain rows describing each delivery of an event, for the live status page and CLI."""
    return [
        {
            "id": d.pk,
            "provider": d.provider.name,
            "kind": d.provider.get_kind_display(),
            "mode": d.mode,
            "status": d.status,
            "status_label": d.get_status_display(),
            "final": d.is_final,
            "attempts": d.attempts,
            "provider_message_id": d.provider_message_id,
            "last_error_code": d.last_error_code,
            "last_error": d.last_error,
            "latency_ms": d.latency_ms,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at and not d.is_final else None,
            "completed_at": d.completed_at.isoformat() if d.completed_at else None,
        }
        for d in deliveries_of(event)
    ]


def wait_until_final(event: Event, *, timeout_seconds: float, poll_seconds: float = 0.2) -> bool:
    """Poll until every delivery of the event is final; False when the timeout came first."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        if not event.deliveries.exclude(status__in=FINAL_STATUSES).exists():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_seconds)


EXPORT_COLUMNS = [
    "delivery_id",
    "event_id",
    "event_type",
    "subject",
    "provider",
    "kind",
    "mode",
    "status",
    "attempts",
    "provider_message_id",
    "last_error_code",
    "last_error",
    "latency_ms",
    "created_at",
    "completed_at",
]


def export_rows(deliveries: QuerySet[Delivery]) -> Iterator[dict[str, Any]]:
    """Deliveries as plain rows (EXPORT_COLUMNS), read in chunks: memory stays flat at any size."""
    fields = [
        "id",
        "event_id",
        "event__type",
        "event__subject",
        "provider__name",
        "provider__kind",
        "mode",
        "status",
        "attempts",
        "provider_message_id",
        "last_error_code",
        "last_error",
        "latency_ms",
        "created_at",
        "completed_at",
    ]
    for values in deliveries.order_by("id").values_list(*fields).iterator(chunk_size=2000):
        row = dict(zip(EXPORT_COLUMNS, values, strict=True))
        row["event_id"] = str(row["event_id"])
        for stamp in ("created_at", "completed_at"):
            row[stamp] = row[stamp].isoformat() if row[stamp] else ""
        yield row
