"""Sending existing events again: new deliveries of an event (resend, replay) and deliveries
made due again (retry now, healing, reconciliation's send-again). The primitives those share,
inside the caller's transaction; who may do it and the audit stay with each caller."""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from providers.models import ProviderConfig
from providers.modes import effective_mode

from .. import stats
from ..models import FINAL_STATUSES, Delivery, DeliveryStatus, Event


def add_deliveries(pairs: Sequence[tuple[Event, ProviderConfig]], *, now: datetime) -> list[Delivery]:
    """New deliveries of existing events (same event ids), due now, counted in the hourly rollup;
    inside the caller's transaction. For resend and replay."""
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                event=event,
                provider=provider,
                mode=effective_mode(provider).mode,
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
            )
            for event, provider in pairs
        ]
    )
    for provider_id, created in Counter(d.provider_id for d in deliveries).items():
        stats.add(provider_id=provider_id, at=now, created=created)
    return deliveries


def make_due_now(deliveries: QuerySet[Delivery], *, now: datetime) -> list[tuple[int, int]]:
    """Make the chosen deliveries due at once (status retrying), inside the caller's transaction;
    returns each one's (id, provider id). For retry now and for reconciliation's send-again.

    A delivery that had finished is final no more: it leaves the hourly rollup of the hour it
    finished in (its success with its latency, or its failure) and is counted again where it
    finishes next, so the dashboard counts each delivery once, as a rebuild from the history does."""
    rows = list(deliveries.select_for_update().values_list("pk", "provider_id", "status", "completed_at", "latency_ms"))
    Delivery.objects.filter(pk__in=[row[0] for row in rows]).update(
        status=DeliveryStatus.RETRYING, next_attempt_at=now, completed_at=None, updated_at=now
    )
    reopened: dict[tuple[int, datetime], dict[str, Any]] = {}
    for _, provider_id, status, completed_at, latency_ms in rows:
        if completed_at is None or status not in FINAL_STATUSES:
            continue
        hour = stats.hour_of(completed_at)
        figures = reopened.setdefault((provider_id, hour), {"succeeded": 0, "failed": 0, "latencies": []})
        if status == DeliveryStatus.SUCCEEDED:
            figures["succeeded"] += 1
            figures["latencies"] += [latency_ms] if latency_ms is not None else []
        else:
            figures["failed"] += 1
    for (provider_id, hour), figures in reopened.items():
        stats.remove_finished(
            provider_id=provider_id,
            at=hour,
            succeeded=figures["succeeded"],
            failed=figures["failed"],
            latencies_ms=figures["latencies"],
        )
    return [(row[0], row[1]) for row in rows]
