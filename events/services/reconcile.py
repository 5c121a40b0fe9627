"""Reconciliation: for one provider config and a time window, compare what HELIOS sent with what
came back through the config's receiver.

- missing: sent (succeeded in the window), not received within the grace period;
- duplicated: received more than once;
- unexpected: received, but HELIOS never sent that event to this config;
- out of order: per subject (or ordering key), received after an event that was sent later.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, islice

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core import audit, tracing
from core.audit import Actor
from core.models import AuditAction
from providers.models import ProviderConfig, ReceiverSettings

from ..models import (
    Delivery,
    DeliveryStatus,
    Receipt,
    ReconciliationItem,
    ReconciliationKind,
    ReconciliationReport,
    Resend,
)
from .doorbell import ring_doorbell
from .healing import heal
from .resending import make_due_now

DEFAULT_GRACE_SECONDS = 300
DEFAULT_WINDOW = timedelta(hours=24)
#: Rows read, and findings written, at a time.
STREAM_CHUNK = 2000


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    delivery_id: int | None = None
    receipt_id: int | None = None
    detail: str = ""


@tracing.traced("reconcile")
def reconcile(
    *,
    provider: ProviderConfig,
    since: datetime,
    until: datetime | None = None,
    grace_seconds: int | None = None,
    actor: Actor | None = None,
) -> ReconciliationReport:
    """Build and store the report for deliveries sent, and receipts received, in [since, until)."""
    tracing.annotate(helios_provider=provider.name)
    now = timezone.now()
    until = min(until or now, now)
    receiver = ReceiverSettings.objects.filter(provider=provider).first()
    if grace_seconds is None:
        grace_seconds = receiver.grace_seconds if receiver else DEFAULT_GRACE_SECONDS
    since, window_note = _from_set_up(receiver, since, until)
    sent = Delivery.objects.filter(
        provider=provider, status=DeliveryStatus.SUCCEEDED, completed_at__gte=since, completed_at__lt=until
    )
    received = Receipt.objects.filter(provider=provider, first_received_at__gte=since, first_received_at__lt=until)
    findings = chain(
        _missing(sent, now - timedelta(seconds=grace_seconds)),
        (
            Finding(ReconciliationKind.DUPLICATED, r.key, r.delivery_id, r.pk, f"received {r.arrivals} times")
            for r in received.filter(arrivals__gt=1).order_by("first_received_at", "id").iterator(STREAM_CHUNK)
        ),
        (
            Finding(ReconciliationKind.UNEXPECTED, r.key, None, r.pk, _unexpected_detail(r))
            for r in received.filter(delivery__isnull=True).order_by("first_received_at", "id").iterator(STREAM_CHUNK)
        ),
        _out_of_order(received),
    )
    counts = dict.fromkeys(ReconciliationKind.values, 0)
    with transaction.atomic():
        report = ReconciliationReport.objects.create(
            provider=provider,
            window_start=since,
            window_end=until,
            grace_seconds=grace_seconds,
            window_note=window_note,
            created_by=actor.account if actor else None,
            sent=sent.count(),
            received=received.count(),
        )
        # Streamed: findings are written a chunk at a time, never all held (memory stays flat).
        while chunk := list(islice(findings, STREAM_CHUNK)):
            ReconciliationItem.objects.bulk_create(
                [
                    ReconciliationItem(
                        report=report,
                        kind=f.kind,
                        key=f.key[:300],
                        delivery_id=f.delivery_id,
                        receipt_id=f.receipt_id,
                        detail=f.detail[:500],
                    )
                    for f in chunk
                ]
            )
            for f in chunk:
                counts[f.kind] += 1
        ReconciliationReport.objects.filter(pk=report.pk).update(**counts)
        report.refresh_from_db()
    return report


def _missing(sent, deadline: datetime) -> Iterator[Finding]:
    unconfirmed = sent.filter(confirmed_at__isnull=True, completed_at__lte=deadline).order_by("completed_at", "id")
    healed = dict(
        Resend.objects.filter(delivery__in=unconfirmed, item__isnull=False)
        .values("delivery_id")
        .annotate(last=Max("at"))
        .values_list("delivery_id", "last")
    )
    return (
        Finding(
            ReconciliationKind.MISSING,
            str(event_id),
            pk,
            None,
            f"accepted by the cloud at {completed:%Y-%m-%d %H:%M:%S} UTC, not received since"
            + (
                f"; healed (sent again) at {healed[pk]:%Y-%m-%d %H:%M:%S} UTC and still missing" if pk in healed else ""
            ),
        )
        for pk, event_id, completed in unconfirmed.values_list("pk", "event_id", "completed_at").iterator(STREAM_CHUNK)
    )


def _unexpected_detail(receipt: Receipt) -> str:
    if receipt.event_id:
        return "a HELIOS event, but never sent to this provider config"
    return "not a HELIOS event id" if not receipt.key.startswith("message:") else "no HELIOS event id"


def _out_of_order(received) -> Iterator[Finding]:
    """Per subject, in arrival order: each event that arrived after one composed later than it.
    Streamed; what it keeps is the latest send time per subject."""
    latest: dict[str, tuple] = {}
    rows = (
        received.filter(delivery__isnull=False)
        .exclude(subject="")
        .order_by("first_received_at", "id")
        .values_list("pk", "key", "subject", "event__created_at")
    )
    for pk, key, subject, sent_at in rows.iterator(STREAM_CHUNK):
        if sent_at is None:
            continue
        before = latest.get(subject)
        if before is not None and sent_at < before[0]:
            yield Finding(
                ReconciliationKind.OUT_OF_ORDER,
                key,
                None,
                pk,
                f"subject {subject}: arrived after {before[1]}, which was sent later",
            )
        else:
            latest[subject] = (sent_at, key)


def retry_missing(*, report: ReconciliationReport, actor: Actor | None = None) -> int:
    """Send the report's missing events again (same event id, so consumers can de-duplicate).
    Only deliveries still unconfirmed and not sent again since the report are; so a second click
    sends nothing twice. Returns how many."""
    ids = list(report.items.filter(kind=ReconciliationKind.MISSING).values_list("delivery_id", flat=True))
    with transaction.atomic():
        missing = Delivery.objects.filter(
            pk__in=[i for i in ids if i],
            status=DeliveryStatus.SUCCEEDED,
            confirmed_at__isnull=True,
            completed_at__lte=report.created_at,
        )
        now = timezone.now()
        chosen = make_due_now(missing, now=now)
        count = len(chosen)
        items = dict(report.items.filter(kind=ReconciliationKind.MISSING).values_list("delivery_id", "pk"))
        Resend.objects.bulk_create([Resend(delivery_id=pk, item_id=items.get(pk), at=now) for pk, _ in chosen])
        if count:
            audit.record(
                actor=actor,
                action=AuditAction.RETRY,
                target=f"reconciliation #{report.pk}",
                summary=f"Sent again {count} events missing in reconciliation #{report.pk} ({report.provider.name})",
                details={"report": report.pk, "deliveries": ids[:100]},
            )
            ring_doorbell(report.provider_id, force=True)
    return count


def _from_set_up(receiver: ReceiverSettings | None, since: datetime, until: datetime) -> tuple[datetime, str]:
    """The window's start, never before the receiver was set up (nothing sent earlier could come
    back), and the note saying so when that cut the window."""
    set_up = receiver.created_at if receiver else None
    if set_up is None or since >= set_up:
        return since, ""
    start = min(set_up, until)
    return start, (
        f"Starts when the receiver was set up ({set_up.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC), not at "
        f"{since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC as asked: events sent before it could not come back."
    )


def reconcile_recent() -> list[ReconciliationReport]:
    """The scheduled run: the last 24 hours of every enabled receiver's provider config, each
    report then healed by the config's policy."""
    since = timezone.now() - DEFAULT_WINDOW
    receivers = ReceiverSettings.objects.filter(enabled=True).select_related("provider")
    reports = []
    for receiver in receivers:
        report = reconcile(provider=receiver.provider, since=since)
        heal(report)
        reports.append(report)
    return reports
