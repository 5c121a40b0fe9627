"""Read-side queries for the console and the CLI."""

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from providers.circuit import circuit_status
from providers.models import CircuitState, ProviderConfig

from . import stats
from .models import FINAL_STATUSES, OPEN_STATUSES, BulkUpload, Delivery, DeliveryStatus, Event, HourlyStats

#: Deliveries not final yet.


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
            "confirmed": confirmation_text(d),
            "circuit": "" if d.is_final else circuit_note(d.provider),
            "waiting": "" if d.is_final else waiting_words(d, *_circuit_of(d.provider)),
        }
        for d in deliveries_of(event)
    ]


def _circuit_of(config: ProviderConfig) -> tuple[str | None, datetime | None]:
    status = circuit_status(config)
    return status.state, status.since


def waiting_words(delivery: Delivery, circuit_state: str | None, circuit_changed_at: datetime | None) -> str:
    """What an unfinished delivery waits for, as of now: "held by open circuit, probe 13:53:10
    UTC", "next attempt 13:52:42 UTC", or "due now: waiting for a worker" ("" when final or
    being sent). Never a time already past as if it were still ahead."""
    if delivery.is_final or delivery.status == DeliveryStatus.SENDING:
        return ""
    now = timezone.now()
    if circuit_state == CircuitState.OPEN and circuit_changed_at is not None:
        probe = circuit_changed_at + timedelta(seconds=delivery.provider.circuit_cooldown_seconds)
        return (
            f"held by open circuit, probe {probe:%H:%M:%S} UTC"
            if probe > now
            else "held by open circuit, probe due now"
        )
    if circuit_state == CircuitState.HALF_OPEN:
        return "held while the circuit's probe is sent"
    if delivery.next_attempt_at and delivery.next_attempt_at > now:
        return f"next attempt {delivery.next_attempt_at:%H:%M:%S} UTC"
    return "due now: waiting for a worker"


def awaiting_round_trip(event: Event) -> bool:
    """Whether a delivery of the event succeeded recently and may still come back through its
    config's receiver (within the receiver's grace period): the event page keeps watching."""
    now = timezone.now()
    waiting = (
        Delivery.objects.filter(event=event, status=DeliveryStatus.SUCCEEDED, confirmed_at__isnull=True)
        .filter(provider__receiver__enabled=True)
        .values_list("completed_at", "provider__receiver__grace_seconds")
    )
    return any(done and now - done < timedelta(seconds=grace) for done, grace in waiting)


def circuit_note(config: ProviderConfig) -> str:
    """Why an unfinished delivery may be waiting: its provider's circuit, when not closed ("" when it is)."""
    status = circuit_status(config)
    return "" if status.is_closed else status.sentence()


def confirmation_text(delivery: Delivery) -> str:
    """ "confirmed 2026-11-27 10:00:01 UTC via …" once the event came back from the cloud, else ""."""
    return confirmed_words(delivery.confirmed_at, delivery.confirmed_via)


def confirmed_words(at: datetime | None, via: str) -> str:
    """The round-trip confirmation in words ("" when the event has not come back)."""
    return f"confirmed {at:%Y-%m-%d %H:%M:%S} UTC via {via}" if at else ""


def bulk_progress(upload: BulkUpload) -> dict[str, Any]:
    """A bulk upload's deliveries by status, and how many are final (for its progress bar); per
    provider config too, with what holds back its open deliveries (an open circuit)."""
    rows = (
        Delivery.objects.filter(event__bulk_upload=upload)
        .values_list("provider_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[str, int] = {}
    per_provider: dict[int, dict[str, int]] = {}
    for provider_id, status, n in rows:
        counts[status] = counts.get(status, 0) + n
        per_provider.setdefault(provider_id, {})[status] = n
    total = sum(counts.values())
    final = sum(counts.get(status, 0) for status in FINAL_STATUSES)
    providers = []
    for config in ProviderConfig.objects.filter(pk__in=per_provider).order_by("name"):
        mine = per_provider[config.pk]
        done = sum(mine.get(status, 0) for status in FINAL_STATUSES)
        providers.append(
            {
                "name": config.name,
                "deliveries": sum(mine.values()),
                "final": done,
                "succeeded": mine.get(DeliveryStatus.SUCCEEDED, 0),
                "failed": mine.get(DeliveryStatus.FAILED, 0) + mine.get(DeliveryStatus.DEAD, 0),
                "waiting": "" if done == sum(mine.values()) else circuit_note(config),
            }
        )
    return {
        "events": upload.event_count,
        "deliveries": total,
        "final": final,
        "done": total > 0 and final == total,
        "by_status": {status.value: counts.get(status.value, 0) for status in DeliveryStatus},
        "by_provider": providers,
    }


def wait_until_final(event: Event, *, timeout_seconds: float, poll_seconds: float = 0.2) -> bool:
    """Poll until every delivery of the event is final; False when the timeout came first."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        if not event.deliveries.exclude(status__in=FINAL_STATUSES).exists():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_seconds)


#: Export column → the field it reads.
EXPORT_FIELDS = {
    "delivery_id": "id",
    "event_id": "event_id",
    "event_type": "event__type",
    "subject": "event__subject",
    "provider": "provider__name",
    "kind": "provider__kind",
    "mode": "mode",
    "status": "status",
    "attempts": "attempts",
    "provider_message_id": "provider_message_id",
    "last_error_code": "last_error_code",
    "last_error": "last_error",
    "latency_ms": "latency_ms",
    "created_at": "created_at",
    "completed_at": "completed_at",
}
EXPORT_COLUMNS = list(EXPORT_FIELDS)


def export_rows(deliveries: QuerySet[Delivery]) -> Iterator[dict[str, Any]]:
    """Deliveries as plain rows (EXPORT_COLUMNS), read in chunks: memory stays flat at any size."""
    fields = list(EXPORT_FIELDS.values())
    for values in deliveries.order_by("id").values_list(*fields).iterator(chunk_size=2000):
        row = dict(zip(EXPORT_COLUMNS, values, strict=True))
        row["event_id"] = str(row["event_id"])
        for stamp in ("created_at", "completed_at"):
            row[stamp] = row[stamp].isoformat() if row[stamp] else ""
        yield row


def provider_health(*, since: datetime) -> dict[int, dict[str, Any]]:
    """Per provider config since `since` (whole hours, from HourlyStats): deliveries sent
    (created), succeeded and failed (failed or dead) in the window, the final success rate; the
    attempts that finished and the share that failed; p50/p95 per-delivery latency of the
    successes (from the latency histogram, interpolated); and the deliveries open now (pending,
    sending or retrying, whatever their age)."""
    rows = HourlyStats.objects.filter(hour__gte=stats.hour_of(since)).order_by()
    health: dict[int, dict[str, Any]] = {}
    empty = {"sent": 0, "succeeded": 0, "failed": 0, "attempts": 0, "attempts_failed": 0}
    for row in rows:
        figures = health.setdefault(row.provider_id, {**empty, "buckets": [0] * stats.BUCKETS})
        figures["sent"] += row.created
        figures["succeeded"] += row.succeeded
        figures["failed"] += row.failed
        figures["attempts"] += row.attempts
        figures["attempts_failed"] += row.attempts_failed
        for index, count in enumerate(row.latency_buckets):
            figures["buckets"][index] += count
    open_now = (
        Delivery.objects.filter(status__in=OPEN_STATUSES).values_list("provider_id").annotate(n=Count("id")).order_by()
    )
    for provider_id, count in open_now:
        health.setdefault(provider_id, {**empty, "buckets": []})["open"] = count
    for figures in health.values():
        finished = figures["succeeded"] + figures["failed"]
        buckets = figures.pop("buckets")
        figures.setdefault("open", 0)
        figures["success_rate"] = round(100 * figures["succeeded"] / finished, 1) if finished else None
        tried = figures["attempts"]
        figures["attempt_failure_rate"] = round(100 * figures["attempts_failed"] / tried, 1) if tried else None
        figures["p50_ms"] = stats.percentile(buckets, 0.50)
        figures["p95_ms"] = stats.percentile(buckets, 0.95)
    return health


def hourly_volume(*, since: datetime) -> list[dict[str, Any]]:
    """Deliveries created and deliveries that failed or died, per hour since `since`, oldest
    first, no gaps (from HourlyStats)."""
    rows = (
        HourlyStats.objects.filter(hour__gte=stats.hour_of(since))
        .values("hour")
        .annotate(total=Sum("created"), failed=Sum("failed"))
        .order_by()
    )
    by_hour = {row["hour"]: row for row in rows}
    start = stats.hour_of(since)
    hours = []
    for step in range(int((timezone.now() - start).total_seconds() // 3600) + 1):
        hour = start + timedelta(hours=step)
        row = by_hour.get(hour, {})
        hours.append({"hour": hour, "total": row.get("total", 0), "failed": row.get("failed", 0)})
    return hours
