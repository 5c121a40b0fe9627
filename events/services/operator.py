"""What operators do to deliveries that exist: retry now, resend an event to other providers."""

import logging
from collections import Counter
from collections.abc import Sequence

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from helios_site import audit
from helios_site.audit import Actor
from helios_site.models import AuditAction
from providers.models import ProviderConfig
from providers.services import check_event, effective_mode

from .. import stats
from ..models import (
    Delivery,
    DeliveryStatus,
    Event,
)
from .doorbell import ring_doorbell
from .publishing import outgoing_event
from .validation import PublishRejected, data_problems

logger = logging.getLogger(__name__)


def resend_to(*, event: Event, providers: Sequence[ProviderConfig], actor: Actor | None = None) -> list[Delivery]:
    """Send an existing event, with the same id, to providers it has no delivery for yet."""
    already = set(event.deliveries.values_list("provider_id", flat=True))
    new = [p for p in providers if p.pk not in already]
    errors = [] if new else ["The event already has a delivery for every chosen provider."]
    errors += data_problems(event.data)  # stored before the input gate existed
    errors += [f"{p.name} is disabled; enable it before publishing to it." for p in new if not p.enabled]
    outgoing = outgoing_event(event)
    errors += [f"{p.name}: {problem}" for p in new for problem in check_event(p, outgoing)]
    if errors:
        raise PublishRejected(errors)
    now = timezone.now()
    with transaction.atomic():
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    event=event,
                    provider=p,
                    mode=effective_mode(p).mode,
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now,
                )
                for p in new
            ]
        )
        for provider in new:
            stats.add(provider_id=provider.pk, at=now, created=1)
        audit.record(
            actor=actor,
            action=AuditAction.RESEND,
            target=f"event {event.pk}",
            summary=f"Resent {event.type} to {', '.join(p.name for p in new)}",
            details={"providers": [p.name for p in new]},
        )
        for provider in new:
            ring_doorbell(provider.pk)
    return deliveries


RETRYABLE_BY_OPERATOR = (DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.RETRYING)


def retry_now(*, deliveries: QuerySet[Delivery], actor: Actor | None = None) -> int:
    """Make failed, dead or retrying deliveries due now: one more attempt each. Returns how many.

    A failed or dead delivery is final no more: it leaves the hourly rollup's failed count of the
    hour it finished in (it is counted again where it finishes next), so the dashboard counts
    each delivery once, as a rebuild from the history does."""
    now = timezone.now()
    with transaction.atomic():
        chosen = list(
            deliveries.filter(status__in=RETRYABLE_BY_OPERATOR)
            .select_for_update()
            .values_list("pk", "provider_id", "status", "completed_at")
        )
        count = Delivery.objects.filter(pk__in=[row[0] for row in chosen], status__in=RETRYABLE_BY_OPERATOR).update(
            status=DeliveryStatus.RETRYING, next_attempt_at=now, completed_at=None, updated_at=now
        )
        reopened = Counter(
            (provider_id, stats.hour_of(completed_at))
            for _, provider_id, status, completed_at in chosen
            if status in (DeliveryStatus.FAILED, DeliveryStatus.DEAD) and completed_at is not None
        )
        for (provider_id, hour), n in reopened.items():
            stats.add(provider_id=provider_id, at=hour, failed=-n)
        if count:
            audit.record(
                actor=actor,
                action=AuditAction.RETRY,
                target=f"{count} deliveries",
                summary=f"Retry now: {count} deliveries",
                details={"deliveries": [row[0] for row in chosen[:100]]},
            )
        for provider_id in sorted({row[1] for row in chosen}):
            ring_doorbell(provider_id, force=True)
    return count
