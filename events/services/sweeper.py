"""The sweeper (a django-q2 schedule, every minute): recover expired leases as attempts of
unknown outcome, and ring the doorbell for every provider with due deliveries."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from providers.clients.base import Outcome, PublishResult

from ..models import (
    DUE_STATUSES,
    Delivery,
    DeliveryStatus,
)
from .demo_arrivals import deliver_due_arrivals
from .doorbell import ring_doorbell
from .outcomes import record_results
from .replay import resume_stalled

logger = logging.getLogger(__name__)


LEASE_EXPIRED_MESSAGE = (
    "The worker stopped before recording the outcome (lease expired). The provider may or "
    "may not have received this attempt; HELIOS sends it again with the same event id."
)


@dataclass
class SweepReport:
    """What one sweep did."""

    leases_recovered: int = 0
    providers_rung: list[int] = field(default_factory=list)
    demo_arrivals: int = 0
    replays_resumed: list[int] = field(default_factory=list)


def sweep() -> SweepReport:
    """Recover expired leases, ring the doorbell for every provider with due work, deliver demo
    mode's simulated arrivals that are due, and queue again replays whose task was lost."""
    report = SweepReport()
    now = timezone.now()
    expired = Delivery.objects.filter(status=DeliveryStatus.SENDING, lease_expires_at__lt=now)
    for delivery in expired.select_related("provider"):
        logger.info(
            "delivery %s of event %s to %s: lease expired, attempt recorded as unknown",
            delivery.pk,
            delivery.event_id,
            delivery.provider.name,
        )
        record_results(
            token=delivery.claim_token,
            entries=[
                (
                    delivery,
                    PublishResult(
                        event_id=str(delivery.event_id),
                        outcome=Outcome.RETRYABLE_ERROR,
                        error_code="LeaseExpired",
                        error_message=LEASE_EXPIRED_MESSAGE,
                        response="no answer recorded: the lease expired before the worker recorded one",
                    ),
                )
            ],
            mode=delivery.mode,
            policy=delivery.provider,
            started_at=delivery.lease_expires_at - timedelta(seconds=settings.HELIOS_LEASE_SECONDS),
            finished_at=now,
            call_ms=0,
            outcome_unknown=True,
        )
        report.leases_recovered += 1
    due = Delivery.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now, provider__enabled=True)
    report.providers_rung = sorted(set(due.values_list("provider_id", flat=True)))
    report.demo_arrivals = deliver_due_arrivals()
    report.replays_resumed = resume_stalled(stalled_after=timedelta(seconds=3 * settings.Q_TASK_TIMEOUT_SECONDS))
    for provider_id in report.providers_rung:
        ring_doorbell(provider_id, force=True)
    return report
