"""Recording events that came back from a cloud (round trip): one receipt per provider config and
event, duplicates counted, matched to the HELIOS event and its delivery, which becomes confirmed."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.identifiers import parse_uuid
from core.redaction import stored_text
from providers.inbound.parsing import InboundEvent
from providers.models import ProviderConfig

from ..models import Delivery, Event, Receipt


@dataclass(frozen=True)
class ReceiptSummary:
    """What one request brought: new receipts, duplicates, and how many matched a HELIOS delivery."""

    new: int = 0
    duplicates: int = 0
    confirmed: int = 0


def record_arrivals(
    *, provider: ProviderConfig, events: Sequence[InboundEvent], via: str, secrets: Sequence[str] = ()
) -> ReceiptSummary:
    """Store each event's arrival (one transaction): a new receipt, or one more arrival of a known
    one. A first arrival of a HELIOS event sent to this config confirms its delivery."""
    now = timezone.now()
    new = duplicates = confirmed = 0
    with transaction.atomic():
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
