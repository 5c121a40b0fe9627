"""Self-healing: after reconciliation, events sent but never back are sent again with the same
event id (consumers can de-duplicate), by the config's healing policy (set by an Admin):

- off: nothing; suggest: the report offers *Resend missing* (an operator decides);
- automatic: each scheduled reconciliation resends its missing events, at most
  `healing_max_per_hour` an hour, only events younger than `healing_max_age_hours`, never while
  the circuit is open, and for a production config only once an Admin confirmed automatic
  healing by typing its name.

An event is healed once: if it is still missing afterwards, reconciliation says so and healing
leaves it to an operator. Every resend is a `Resend` linked to the reconciliation item.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core import audit, tracing
from core.badges import plural
from core.models import AuditAction
from providers.circuit import circuit_status
from providers.models import HealingPolicy, ReceiverSettings
from providers.modes import effective_mode

from ..models import Delivery, DeliveryStatus, ReconciliationItem, ReconciliationKind, ReconciliationReport, Resend
from .doorbell import ring_doorbell
from .resending import make_due_now

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Healing:
    """What automatic healing did for one report: resent, and why the rest were held back."""

    resent: int = 0
    held_back: str = ""


@tracing.traced("heal")
def heal(report: ReconciliationReport) -> Healing:
    """Resend the report's missing events if the config's policy is automatic, within its bounds."""
    tracing.annotate(helios_report=report.pk, helios_provider_id=report.provider_id)
    receiver = ReceiverSettings.objects.select_related("provider").filter(provider_id=report.provider_id).first()
    if receiver is None or receiver.healing != HealingPolicy.AUTOMATIC:
        return Healing()
    config = receiver.provider
    if effective_mode(config).is_production and receiver.healing_confirmed_at is None:
        return _held(report, "automatic healing of a production config is not confirmed by name")
    circuit = circuit_status(config)
    if not circuit.is_closed:
        return _held(report, f"the circuit is {circuit.state}")
    now = timezone.now()
    spent = Resend.objects.filter(
        item__isnull=False, delivery__provider=config, at__gte=now - timedelta(hours=1)
    ).count()
    allowance = max(receiver.healing_max_per_hour - spent, 0)
    items = list(
        _healable(report).filter(delivery__event__created_at__gte=now - timedelta(hours=receiver.healing_max_age_hours))
    )
    if not items:
        return Healing()
    chosen = items[:allowance]
    held = len(items) - len(chosen)
    with transaction.atomic():
        make_due_now(Delivery.objects.filter(pk__in=[i.delivery_id for i in chosen]), now=now)
        Resend.objects.bulk_create([Resend(delivery_id=i.delivery_id, item=i, at=now) for i in chosen])
        if chosen:
            audit.record(
                actor=None,
                action=AuditAction.HEALING,
                target=f"reconciliation #{report.pk}",
                summary=f"Healing: {plural(len(chosen), 'missing event')} sent again to {config.name}"
                + (f"; {held} held back by the limit of {receiver.healing_max_per_hour} an hour" if held else ""),
                details={"report": report.pk, "deliveries": [i.delivery_id for i in chosen[:100]]},
            )
            ring_doorbell(config.pk, force=True)
    return Healing(resent=len(chosen), held_back=f"{held} over the hourly limit" if held else "")


def healing_words(report: ReconciliationReport, healing: Healing) -> str:
    """What the config's healing policy did with a report's missing events, in words ("" when
    nothing is missing)."""
    if not report.missing:
        return ""
    policy = (
        ReceiverSettings.objects.filter(provider_id=report.provider_id).values_list("healing", flat=True).first()
        or HealingPolicy.OFF
    )
    if policy != HealingPolicy.AUTOMATIC:
        label = "suggests resending" if policy == HealingPolicy.SUGGEST else "is off"
        return f"Healing {label} for this config: resend the missing events from the report's page."
    if healing.resent:
        done = f"Healing (automatic): {plural(healing.resent, 'missing event')} sent again"
        return done + (f"; {healing.held_back}." if healing.held_back else ".")
    if healing.held_back:
        return f"Healing (automatic) held back: {healing.held_back}."
    return "Healing (automatic): nothing to send again (each event is healed once, while young enough)."


def _healable(report: ReconciliationReport):
    """Missing items whose delivery is still sent-and-unconfirmed and was never healed."""
    return (
        ReconciliationItem.objects.filter(
            report=report,
            kind=ReconciliationKind.MISSING,
            delivery__status=DeliveryStatus.SUCCEEDED,
            delivery__confirmed_at__isnull=True,
        )
        .exclude(delivery__resends__item__isnull=False)
        .order_by("id")
    )


def _held(report: ReconciliationReport, why: str) -> Healing:
    waiting = _healable(report).count()
    if waiting:
        logger.info("healing of reconciliation #%s held back: %s (%d missing)", report.pk, why, waiting)
    return Healing(held_back=why if waiting else "")
