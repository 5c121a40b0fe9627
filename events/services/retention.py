"""Retention: purge old history by a configurable policy, in small batches.

Each batch is its own short transaction over at most `batch_size` rows of the table being
purged (and their dependants), selected by primary key, so no table is locked for long and the
workers keep sending meanwhile. An event is purged only when every delivery of it is final:
nothing still being delivered is ever removed. A policy of 0 days keeps that kind forever.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from providers.models import CircuitTransition

from ..models import (
    FINAL_STATUSES,
    Delivery,
    DeliveryAttempt,
    Event,
    HourlyStats,
    Receipt,
    ReconciliationReport,
)


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind of history is kept (0: forever), and the batch size. Their defaults live in
    one place, the settings (HELIOS_RETENTION_*)."""

    event_days: int
    attempt_days: int
    receipt_days: int
    report_days: int
    stats_days: int
    batch_size: int

    @classmethod
    def from_settings(cls, **overrides: int) -> "RetentionPolicy":
        """The deployment's policy (HELIOS_RETENTION_* settings), with any field overridden."""
        return cls(**{**settings.HELIOS_RETENTION, **overrides})


@dataclass
class PurgeReport:
    """Rows removed per kind, and how many batches it took."""

    removed: dict[str, int] = field(default_factory=dict)
    batches: int = 0


def purge(policy: RetentionPolicy | None = None, *, now: datetime | None = None) -> PurgeReport:
    """Remove what the policy no longer keeps; returns what was removed."""
    policy = policy or RetentionPolicy.from_settings()
    now = now or timezone.now()
    report = PurgeReport()

    def before(days: int) -> datetime | None:
        return now - timedelta(days=days) if days else None

    if cutoff := before(policy.attempt_days):
        old = DeliveryAttempt.objects.filter(finished_at__lt=cutoff, delivery__status__in=FINAL_STATUSES)
        _in_batches(report, "attempts", old, policy.batch_size, _delete_rows(DeliveryAttempt))
    if cutoff := before(policy.event_days):
        still_open = Delivery.objects.filter(event=OuterRef("pk")).exclude(status__in=FINAL_STATUSES)
        old = Event.objects.filter(created_at__lt=cutoff).exclude(Exists(still_open))
        _in_batches(report, "events", old, policy.batch_size, _delete_events)
    if cutoff := before(policy.receipt_days):
        old = Receipt.objects.filter(first_received_at__lt=cutoff)
        _in_batches(report, "receipts", old, policy.batch_size, _delete_rows(Receipt))
    if cutoff := before(policy.report_days):
        old = ReconciliationReport.objects.filter(created_at__lt=cutoff)
        _in_batches(report, "reconciliation reports", old, policy.batch_size, _delete_rows(ReconciliationReport))
        incidents = CircuitTransition.objects.filter(at__lt=cutoff)
        _in_batches(report, "circuit incidents", incidents, policy.batch_size, _delete_rows(CircuitTransition))
    if cutoff := before(policy.stats_days):
        old = HourlyStats.objects.filter(hour__lt=cutoff)
        _in_batches(report, "hourly stats", old, policy.batch_size, _delete_rows(HourlyStats))
    return report


def _in_batches(report: PurgeReport, kind: str, queryset: QuerySet, size: int, delete: Callable[[list], int]) -> None:
    report.removed.setdefault(kind, 0)
    while ids := list(queryset.order_by("pk").values_list("pk", flat=True)[:size]):
        with transaction.atomic():
            report.removed[kind] += delete(ids)
        report.batches += 1


def _delete_rows(model: type) -> Callable[[list], int]:
    def delete(ids: list) -> int:
        return model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)

    return delete


def _delete_events(ids: list) -> int:
    """Events with their deliveries and attempts (children first: each statement stays small)."""
    DeliveryAttempt.objects.filter(delivery__event_id__in=ids).delete()
    Delivery.objects.filter(event_id__in=ids).delete()
    return Event.objects.filter(pk__in=ids).delete()[1].get(Event._meta.label, 0)
