"""Recording events that came back from a cloud (round trip): one receipt per provider config and
event, duplicates counted, matched to the HELIOS event and its delivery, which becomes confirmed."""

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from core.identifiers import parse_uuid
from core.redaction import stored_text
from providers.inbound.parsing import InboundEvent
from providers.models import ProviderConfig

from ..models import Delivery, Event, Receipt
from .spans import receive_span


@dataclass(frozen=True)
class ReceiptSummary:
    """What one request brought: new receipts, duplicates, and how many matched a HELIOS delivery."""

    new: int = 0
    duplicates: int = 0
    confirmed: int = 0
    #: (event id, traceparent, tracestate) of the HELIOS events that arrived for the first time.
    contexts: tuple[tuple[str, str, str], ...] = ()


def record_arrivals(
    *,
    provider: ProviderConfig,
    events: Sequence[InboundEvent],
    via: str,
    operation: str,
    secrets: Sequence[str] = (),
) -> ReceiptSummary:
    """Store each event's arrival (one transaction): a new receipt, or one more arrival of a known
    one. A first arrival of a HELIOS event sent to this config confirms its delivery. `via` says
    where they came from in words; `operation` how (`push`, `pull`, `demo`: the span's name).

    A batch (a pull brings hundreds) costs a handful of statements, not a few per event: known
    receipts are counted in one update per arrival count, the new ones matched to their events
    and deliveries in one read and inserted together. If a concurrent request stored one of the
    same events first, the batch is recorded again one event at a time."""
    if not events:
        return ReceiptSummary()
    started_ns = time.time_ns()
    try:
        with transaction.atomic():
            summary = _record_batch(provider, events, via, secrets)
    except IntegrityError:  # a concurrent request stored one of these first
        with transaction.atomic():
            summary = _record_each(provider, events, via, secrets)
    receive_span(provider, operation, len(events), summary.contexts, started_ns=started_ns)
    return summary


def _record_batch(
    provider: ProviderConfig, events: Sequence[InboundEvent], via: str, secrets: Sequence[str]
) -> ReceiptSummary:
    now = timezone.now()
    arrivals = Counter(inbound.key[:300] for inbound in events)
    known = set(Receipt.objects.filter(provider=provider, key__in=list(arrivals)).values_list("key", flat=True))
    by_count: dict[int, list[str]] = defaultdict(list)
    for key in known:
        by_count[arrivals[key]].append(key)
    for count, keys in by_count.items():
        Receipt.objects.filter(provider=provider, key__in=keys).update(
            arrivals=F("arrivals") + count, last_received_at=now
        )
    first: dict[str, InboundEvent] = {}
    for inbound in events:
        first.setdefault(inbound.key[:300], inbound)
    fresh = [inbound for key, inbound in first.items() if key not in known]
    event_ids = {parse_uuid(inbound.event_id) for inbound in fresh} - {None}
    to_provider = Delivery.objects.filter(event=OuterRef("pk"), provider=provider).values("pk")[:1]
    matched = Event.objects.filter(pk__in=event_ids).annotate(delivery_pk=Subquery(to_provider))
    rows = list(matched.values_list("pk", "delivery_pk", "traceparent", "tracestate")) if event_ids else []
    # event id → its delivery to this config (None: a HELIOS event never sent to it)
    deliveries = {event_id: delivery_id for event_id, delivery_id, _, _ in rows}
    found = set(deliveries)
    receipts = []
    for inbound in fresh:
        event_id = parse_uuid(inbound.event_id)
        event_id = event_id if event_id in found else None
        repeats = arrivals[inbound.key[:300]]
        receipts.append(
            Receipt(
                provider=provider,
                key=inbound.key[:300],
                event_id=event_id,
                delivery_id=deliveries.get(event_id),
                message_id=inbound.message_id[:300],
                subscription=inbound.subscription[:300],
                subject=inbound.subject[:300],
                first_received_at=now,
                last_received_at=now,
                arrivals=repeats,
                body=stored_text(inbound.raw, secrets),
            )
        )
    Receipt.objects.bulk_create(receipts, batch_size=500)
    confirmed = 0
    by_where: dict[str, list[int]] = defaultdict(list)
    for receipt, inbound in zip(receipts, fresh, strict=True):
        if receipt.delivery_id is not None:
            by_where[f"{via} ({inbound.subscription})" if inbound.subscription else via].append(receipt.delivery_id)
    for where, delivery_ids in by_where.items():
        confirmed += Delivery.objects.filter(pk__in=delivery_ids, confirmed_at__isnull=True).update(
            confirmed_at=now, confirmed_via=where[:300]
        )
    new = len(receipts)
    contexts = tuple((str(event_id), parent, state) for event_id, _, parent, state in rows if parent)
    return ReceiptSummary(new=new, duplicates=len(events) - new, confirmed=confirmed, contexts=contexts)


def _record_each(
    provider: ProviderConfig, events: Sequence[InboundEvent], via: str, secrets: Sequence[str]
) -> ReceiptSummary:
    """One event at a time, each receipt in its own savepoint: a race is a duplicate arrival."""
    now = timezone.now()
    new = duplicates = confirmed = 0
    for inbound in events:
        updated = Receipt.objects.filter(provider=provider, key=inbound.key[:300]).update(
            arrivals=F("arrivals") + 1, last_received_at=now
        )
        if updated:
            duplicates += 1
            continue
        event_id = parse_uuid(inbound.event_id)
        event = Event.objects.filter(pk=event_id).only("pk").first() if event_id else None
        delivery = Delivery.objects.filter(event=event, provider=provider).first() if event else None
        try:
            with transaction.atomic():
                Receipt.objects.create(
                    provider=provider,
                    key=inbound.key[:300],
                    event=event,
                    delivery=delivery,
                    message_id=inbound.message_id[:300],
                    subscription=inbound.subscription[:300],
                    subject=inbound.subject[:300],
                    first_received_at=now,
                    last_received_at=now,
                    body=stored_text(inbound.raw, secrets),
                )
        except IntegrityError:  # a concurrent request stored the same event first
            Receipt.objects.filter(provider=provider, key=inbound.key[:300]).update(
                arrivals=F("arrivals") + 1, last_received_at=now
            )
            duplicates += 1
            continue
        new += 1
        if delivery is not None and delivery.confirmed_at is None:
            where = f"{via} ({inbound.subscription})" if inbound.subscription else via
            Delivery.objects.filter(pk=delivery.pk, confirmed_at__isnull=True).update(
                confirmed_at=now, confirmed_via=where[:300]
            )
            confirmed += 1
    return ReceiptSummary(new=new, duplicates=duplicates, confirmed=confirmed)
