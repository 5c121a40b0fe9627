"""Demo mode's round trip: HELIOS plays the cloud delivering sent events back to the config's
receiver, after a delay, with the loss and duplicate rates the receiver settings ask for.

A simulated arrival is the request the cloud would make (the kind's `Receiver.simulate`), parsed
by the kind's own parser and recorded like a real push: receipts, duplicate counts, confirmation
and reconciliation work without a cloud. Only deliveries sent in demo mode are echoed; a lost
event is never planned, so reconciliation reports it missing."""

import logging
import random
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from providers.clients.base import PayloadFormat
from providers.kinds import payload_format, spec_for
from providers.live_clients import client_settings
from providers.models import ProviderConfig, ProviderMode, ReceiverSettings

from ..models import Delivery, DeliveryStatus, DemoArrival
from .publishing import outgoing_event
from .receipts import record_arrivals

logger = logging.getLogger(__name__)
#: Most arrivals delivered in one pass (the rest wait for the next send or sweep).
ARRIVALS_PER_PASS = 500


def plan_arrivals(config: ProviderConfig, deliveries: Sequence[Delivery]) -> int:
    """After demo sends: plan the simulated cloud's deliveries back for those that succeeded in
    demo mode, when the config has an enabled receiver. Returns how many arrivals were planned."""
    sent = [d for d in deliveries if d.status == DeliveryStatus.SUCCEEDED and d.mode == ProviderMode.DEMO]
    if not sent:
        return 0
    receiver = ReceiverSettings.objects.filter(provider=config, enabled=True).first()
    if receiver is None:
        return 0
    chance = random.Random()
    due_at = timezone.now() + timedelta(seconds=receiver.demo_arrival_seconds)
    planned = []
    for delivery in sent:
        if chance.random() < receiver.demo_loss_rate:
            continue
        copies = 2 if chance.random() < receiver.demo_duplicate_rate else 1
        planned += [DemoArrival(delivery=delivery, provider=config, due_at=due_at) for _ in range(copies)]
    DemoArrival.objects.bulk_create(planned)
    return len(planned)


def deliver_due_arrivals(*, provider_id: int | None = None) -> int:
    """Deliver the simulated arrivals that are due (of one config, or all); returns how many."""
    due = DemoArrival.objects.filter(due_at__lte=timezone.now()).order_by("due_at", "pk")
    if provider_id is not None:
        due = due.filter(provider_id=provider_id)
    delivered = 0
    with transaction.atomic():
        # Only the arrivals are locked (`of`): a send task may hold their deliveries meanwhile.
        locked = due.select_for_update(skip_locked=True, of=("self",))
        batch = list(locked.select_related("provider", "delivery__event")[:ARRIVALS_PER_PASS])
        formats: dict[int, PayloadFormat] = {}
        for arrival in batch:
            config = arrival.provider
            if config.pk not in formats:
                formats[config.pk] = payload_format(client_settings(config))
            _arrive(arrival, formats[config.pk])
            delivered += 1
        DemoArrival.objects.filter(pk__in=[a.pk for a in batch]).delete()
    if delivered:
        logger.info("demo round trip: %d simulated arrivals delivered back", delivered)
    return delivered


def _arrive(arrival: DemoArrival, fmt: PayloadFormat) -> None:
    """One simulated push: the cloud's request, parsed by the kind's receiver, recorded."""
    config = arrival.provider
    receiver = spec_for(config.kind).receiver
    if receiver is None:  # a kind without a round trip has no arrivals to simulate
        return
    payload = fmt.build(outgoing_event(arrival.delivery.event))
    body, content_type, headers = receiver.simulate(payload)
    parsed = receiver.parse(body, content_type, headers)
    via = f"{config.get_kind_display()} receiver, simulated by demo mode"
    record_arrivals(provider=config, events=parsed.events, via=via, operation="demo")
