"""What operators do to deliveries that exist: retry now, resend an event to other providers."""

import logging
from collections.abc import Sequence

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.badges import plural
from core.models import AuditAction
from providers.circuit import circuit_status
from providers.live_clients import check_event
from providers.models import ProviderConfig
from providers.production import NO_GRANT, ProductionGrant, production_names

from ..models import (
    RETRYABLE_BY_OPERATOR,
    Delivery,
    Event,
)
from .doorbell import ring_doorbell
from .publishing import outgoing_event
from .resending import add_deliveries, make_due_now
from .validation import PublishRejected, Refusal, data_problems

logger = logging.getLogger(__name__)


def resend_to(
    *,
    event: Event,
    providers: Sequence[ProviderConfig],
    actor: Actor | None = None,
    grant: ProductionGrant = NO_GRANT,
) -> list[Delivery]:
    """Send an existing event, with the same id, to providers it has no delivery for yet (a
    production one only with the grant)."""
    already = set(event.deliveries.values_list("provider_id", flat=True))
    new = [p for p in providers if p.pk not in already]
    if problem := grant.problem(new):
        raise PublishRejected([problem], refusal=Refusal.PRODUCTION, production_names=production_names(new))
    errors = [] if new else ["The event already has a delivery for every chosen provider."]
    errors += data_problems(event.data)  # stored before the input gate existed
    errors += [f"{p.name} is disabled; enable it before publishing to it." for p in new if not p.enabled]
    outgoing = outgoing_event(event)
    errors += [f"{p.name}: {problem}" for p in new for problem in check_event(p, outgoing)]
    if errors:
        raise PublishRejected(errors)
    with transaction.atomic():
        deliveries = add_deliveries([(event, p) for p in new], now=timezone.now())
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


def retry_outcome(count: int, provider_ids: set[int]) -> list[str]:
    """What a retry of `count` deliveries of these providers will do, in sentences: how many, and
    which open circuit holds them back (they wait for its probe, not for the retry)."""
    sentences = [f"{plural(count, 'delivery', 'deliveries')} will be retried now."]
    if count:
        for config in ProviderConfig.objects.filter(pk__in=provider_ids).order_by("name"):
            if not (circuit := circuit_status(config)).is_closed:
                sentences.append(f"{config.name}: {circuit.sentence()}")
    return sentences


def retry_now(*, deliveries: QuerySet[Delivery], actor: Actor | None = None) -> int:
    """Make failed, dead or retrying deliveries due now: one more attempt each. Returns how many."""
    with transaction.atomic():
        chosen = make_due_now(deliveries.filter(status__in=RETRYABLE_BY_OPERATOR), now=timezone.now())
        if chosen:
            audit.record(
                actor=actor,
                action=AuditAction.RETRY,
                target=f"{len(chosen)} deliveries",
                summary=f"Retry now: {len(chosen)} deliveries",
                details={"deliveries": [pk for pk, _ in chosen[:100]]},
            )
        for provider_id in sorted({provider_id for _, provider_id in chosen}):
            ring_doorbell(provider_id, force=True)
    return len(chosen)
