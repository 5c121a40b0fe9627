"""Sending: claim a provider's due deliveries with a lease, send them through its client, and
record each outcome, on a fresh database connection if the old one dropped meanwhile."""

import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core import logs, tracing
from providers import circuit, ratelimit
from providers.clients.base import Outcome, PublishResult
from providers.live_clients import client_for
from providers.models import ProviderConfig, ProviderMode
from providers.modes import effective_mode

from ..models import (
    DUE_STATUSES,
    FINAL_STATUSES,
    Delivery,
    DeliveryStatus,
    Event,
)
from .demo_arrivals import deliver_due_arrivals, plan_arrivals
from .doorbell import answer_doorbell, ring_doorbell
from .outcomes import record_results
from .publishing import outgoing_event
from .spans import record_answers, send_span

logger = logging.getLogger(__name__)


#: Retryable error codes that say nothing about the provider's health (no circuit count).
NOT_PROVIDER_HEALTH = frozenset({"ProductionUnavailable"})


@dataclass
class SendSummary:
    """What one call of `send_due` did."""

    provider: str
    claimed: int = 0
    circuit_open: bool = False
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def send_due(*, provider_id: int, time_budget_seconds: float = 30.0) -> SendSummary:
    """Claim and send this provider's due deliveries until none is due or the budget is spent.

    Respects the provider's circuit breaker (an open circuit sends nothing: deliveries wait)
    and rate limit (tokens shared by every worker).
    """
    answer_doorbell(provider_id)
    config = ProviderConfig.objects.filter(pk=provider_id).first()
    if config is None:
        return SendSummary(provider=f"#{provider_id} (deleted)")
    with logs.bind(provider=config.name):  # every line logged while sending names the provider
        return _send_due(config, time_budget_seconds)


def _send_due(config: ProviderConfig, time_budget_seconds: float) -> SendSummary:
    summary = SendSummary(provider=config.name)
    if not config.enabled:
        logger.info("provider %s is disabled: its deliveries wait", config.name)
        return summary
    deadline = time.monotonic() + time_budget_seconds
    # A task sends what was due when it started: a delivery that fails in it is retried by a later
    # task after its backoff, never again by this one (full jitter can make that backoff ~0 s).
    due_by = timezone.now()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            ring_doorbell(config.pk)  # budget spent, work may be left: hand over to a new task
            break
        gate = circuit.gate(config, probe_timeout_seconds=settings.HELIOS_LEASE_SECONDS)
        if not gate.allowed:
            summary.circuit_open = True
            break
        limit = min(settings.HELIOS_SEND_BATCH_SIZE, gate.limit or settings.HELIOS_SEND_BATCH_SIZE)
        limit = ratelimit.acquire(config, limit, max_wait_seconds=remaining)
        if not limit:  # no token within this task's budget: a fresh task continues later
            ring_doorbell(config.pk)
            break
        token, claimed = claim_due(provider_id=config.pk, limit=limit, due_by=due_by)
        if not claimed:
            deliver_due_arrivals(provider_id=config.pk)  # demo mode's simulated round trip, when due
            break
        if len(claimed) == settings.HELIOS_SEND_BATCH_SIZE:
            ring_doorbell(config.pk)  # a backlog: let another idle worker claim the next batch in parallel
        summary.claimed += len(claimed)
        for outcome in send_claimed(config=config, token=token, deliveries=claimed):
            summary.count(outcome)
    return summary


def claim_due(*, provider_id: int, limit: int, due_by: datetime | None = None) -> tuple[uuid.UUID, list[Delivery]]:
    """Claim up to `limit` due deliveries of one provider with a lease.

    A conditional update (and FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serializes
    writers with IMMEDIATE transactions) means no two workers hold the same delivery.
    """
    now = timezone.now()
    due_by = due_by or now
    token = uuid.uuid4()
    due = (
        Delivery.objects.filter(provider_id=provider_id, status__in=DUE_STATUSES, next_attempt_at__lte=due_by)
        .order_by("next_attempt_at", "id")
        .select_for_update(skip_locked=True)
        .values("id")[:limit]
    )
    with transaction.atomic():
        claimed_count = Delivery.objects.filter(id__in=due, status__in=DUE_STATUSES).update(
            status=DeliveryStatus.SENDING,
            claim_token=token,
            lease_expires_at=now + timedelta(seconds=settings.HELIOS_LEASE_SECONDS),
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    if not claimed_count:
        return token, []
    claimed = Delivery.objects.filter(claim_token=token, status=DeliveryStatus.SENDING).select_related("event")
    lease = LeaseKeeper(token)
    return token, on_fresh_connection(lambda: list(claimed.only(*CLAIMED_FIELDS).order_by("id")), until=lease.expires)


#: What sending and recording need of a claimed delivery (fewer columns, less parsing).
CLAIMED_FIELDS = [
    "id",
    "provider_id",
    "mode",
    "status",
    "attempts",
    "created_at",
    "claim_token",
    "event__id",
    "event__type",
    "event__source",
    "event__subject",
    "event__data",
    "event__created_at",
]


def send_claimed(*, config: ProviderConfig, token: uuid.UUID, deliveries: Sequence[Delivery]) -> list[str]:
    """Send claimed deliveries through the provider's client and record each outcome.

    A delivery is sent in the mode it was composed in: a demo delivery is never sent to a
    real cloud, and a production delivery is never simulated; while production is not
    available it waits as a retryable attempt that says why.
    """
    current = effective_mode(config)
    outcomes = []
    lease = LeaseKeeper(token)
    for mode in (ProviderMode.DEMO, ProviderMode.PRODUCTION):
        group = [d for d in deliveries if d.mode == mode]
        if not group:
            continue
        events = [outgoing_event(d.event) for d in group]
        started_at = timezone.now()
        started = time.monotonic()
        traceparent = ""
        if mode == ProviderMode.PRODUCTION and not current.is_production:
            results = [production_unavailable(event.id, current.reason) for event in events]
        else:
            with send_span(config, mode, events) as traced:
                results = client_for(config, mode).publish(events, after_batch=lease)
                record_answers(traced, results)
                traceparent = tracing.traceparent_of(traced)
        call_ms = int((time.monotonic() - started) * 1000)
        finished_at = timezone.now()
        entries = list(zip(group, results, strict=True))
        # The provider has answered: record it even if the database connection dropped meanwhile
        # (a fresh one, while the lease holds), or the lease expires and the batch goes out again.
        record = functools.partial(
            record_results,
            token=token,
            entries=entries,
            mode=mode,
            policy=config,
            started_at=started_at,
            finished_at=finished_at,
            call_ms=call_ms,
            traceparent=traceparent,
        )
        statuses = on_fresh_connection(record, until=lease.expires)
        outcomes += statuses
        if mode == ProviderMode.DEMO:
            succeeded = [
                d for (d, _), status in zip(entries, statuses, strict=True) if status == DeliveryStatus.SUCCEEDED
            ]
            plan_arrivals(config, succeeded)
        failed = sum(r.outcome is Outcome.RETRYABLE_ERROR and r.error_code not in NOT_PROVIDER_HEALTH for r in results)
        error = next(((r.error_code, r.error_message) for r in reversed(results) if not r.ok), None)
        count = functools.partial(
            circuit.record, config, succeeded=sum(r.ok for r in results), failed=failed, last_error=error
        )
        try:
            on_fresh_connection(count, until=lease.expires)
        except (OperationalError, InterfaceError):  # the outcome is recorded; the circuit counts the next one
            logger.warning("provider %s: the circuit could not count this batch (database unavailable)", config.name)
    return outcomes


Result = TypeVar("Result")


#: Pauses between tries on a fresh connection (then the last one, repeated, until the deadline).
RECONNECT_PAUSES_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0)


def on_fresh_connection(action: Callable[[], Result], *, until: Callable[[], float]) -> Result:
    """Run a database action; when the connection drops (server restart, pg_terminate_backend,
    network), run it again on a fresh connection until the monotonic deadline `until()`.

    For what must not be lost once a provider has answered. Inside a transaction nothing can be
    retried: the error goes to the caller. The action must be safe to run again: recording is,
    because it only updates deliveries still held by the claim."""
    tries = 0
    while True:
        try:
            return action()
        except (OperationalError, InterfaceError):
            pause = RECONNECT_PAUSES_SECONDS[min(tries, len(RECONNECT_PAUSES_SECONDS) - 1)]
            if connection.in_atomic_block or time.monotonic() + pause >= until():
                raise
            logger.warning("the database connection dropped; trying again on a fresh one (try %d)", tries + 1)
            with contextlib.suppress(OperationalError, InterfaceError):  # already gone: the next query reconnects
                connection.close()
            time.sleep(pause)
            tries += 1


class LeaseKeeper:
    """Renews a claim's lease between provider calls once half of it is used, so a claim of
    many batches never outlives its lease while each single call stays within it."""

    #: Seconds before the lease's end after which HELIOS stops trying to record (the sweeper may
    #: recover the deliveries then; a record landing after that would race it).
    SAFETY_MARGIN_SECONDS = 2.0

    def __init__(self, token: uuid.UUID) -> None:
        self.token = token
        self.renewed = time.monotonic()

    def expires(self) -> float:
        """The monotonic time until which this worker may still record the claim's outcomes."""
        return self.renewed + settings.HELIOS_LEASE_SECONDS - self.SAFETY_MARGIN_SECONDS

    def __call__(self) -> None:
        lease = settings.HELIOS_LEASE_SECONDS
        if time.monotonic() - self.renewed < lease / 2:
            return
        renewed_at = time.monotonic()
        try:
            on_fresh_connection(
                lambda: Delivery.objects.filter(claim_token=self.token, status=DeliveryStatus.SENDING).update(
                    lease_expires_at=timezone.now() + timedelta(seconds=lease)
                ),
                until=self.expires,
            )
        except (OperationalError, InterfaceError):  # never stop a publish half-way: the lease runs out instead
            logger.warning("the lease of claim %s could not be renewed (database unavailable)", self.token)
            return
        self.renewed = renewed_at


def production_unavailable(event_id: str, reason: str) -> PublishResult:
    """The attempt recorded when a production delivery cannot be sent for real right now."""
    return PublishResult(
        event_id=event_id,
        outcome=Outcome.RETRYABLE_ERROR,
        error_code="ProductionUnavailable",
        error_message=f"Not sent: composed for production, but {reason}. It is never simulated; HELIOS retries.",
        response="not sent: production is unavailable",
    )


def deliver_now(*, event: Event, timeout_seconds: float) -> bool:
    """Send an event's deliveries in this process, retries included, until final or timeout.

    For `publish --sync`: no worker needed. Returns False when the timeout came first.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        open_deliveries = event.deliveries.exclude(status__in=FINAL_STATUSES)
        if not open_deliveries.exists():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        for provider_id in set(open_deliveries.values_list("provider_id", flat=True)):
            send_due(provider_id=provider_id, time_budget_seconds=remaining)
        next_due = open_deliveries.filter(status__in=DUE_STATUSES).order_by("next_attempt_at").first()
        wait = 0.1  # a delivery held by another worker: look again shortly
        if next_due and next_due.next_attempt_at:
            wait = max((next_due.next_attempt_at - timezone.now()).total_seconds(), 0.0)
        time.sleep(min(wait, max(deadline - time.monotonic(), 0.0)))
