"""Event services: publish, claim and send deliveries, record outcomes, sweep.

The database is the source of truth and the queue only a doorbell: every event and
delivery is a row before anything is sent, a task only says "look at the database for
this provider config now", and the sweeper rings again for anything a lost task left.
"""

import contextlib
import functools
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, router, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task
from jsonschema.validators import validator_for

from helios_site import audit, logs
from helios_site.audit import Actor
from helios_site.models import AuditAction
from providers import circuit, ratelimit
from providers.clients.base import Outcome, OutgoingEvent, PublishResult
from providers.models import ProviderConfig, ProviderMode, ProviderRuntime
from providers.services import check_event, client_for, effective_mode

from . import stats
from .models import (
    DUE_STATUSES,
    FINAL_STATUSES,
    AttemptOutcome,
    BulkUpload,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventTemplate,
)
from .validation import PublishRejected, data_problems, envelope_problems

logger = logging.getLogger(__name__)

SEND_TASK = "events.tasks.send_due_deliveries"
#: Retryable error codes that say nothing about the provider's health (no circuit count).
NOT_PROVIDER_HEALTH = frozenset({"ProductionUnavailable"})
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 30 * 60.0
LEASE_EXPIRED_MESSAGE = (
    "The worker stopped before recording the outcome (lease expired). The provider may or "
    "may not have received this attempt; HELIOS sends it again with the same event id."
)


def outgoing_event(event: Event) -> OutgoingEvent:
    """The plain value a provider client receives for an event."""
    return OutgoingEvent(
        id=str(event.id),
        type=event.type,
        source=event.source,
        subject=event.subject,
        time=event.created_at,
        data=event.data,
    )


@dataclass(frozen=True)
class EventSpec:
    """What to publish: one event's type, source, data and subject."""

    event_type: str
    source: str
    data: Any
    subject: str = ""
    template: EventTemplate | None = None


def publish_event(
    *,
    event_type: str,
    source: str,
    data: Any,
    providers: Sequence[ProviderConfig],
    subject: str = "",
    template: EventTemplate | None = None,
    actor: Actor | None = None,
    idempotency_key: str | None = None,
    ring: bool = True,
) -> Event:
    """Validate, then create the event, its deliveries and the send tasks in one transaction.

    Raises PublishRejected, creating nothing, when the event breaks any chosen provider's
    limits. With an `idempotency_key` already used, returns that earlier event (marked
    `reused`) and creates and sends nothing. With `ring=False` no task is queued (the caller
    sends, e.g. `publish --sync`).
    """
    if idempotency_key is not None:
        key_problems = envelope_problems(event_type="-", source="-", idempotency_key=idempotency_key)
        if key_problems:
            raise PublishRejected(key_problems)
        existing = Event.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            existing.reused = True
            return existing
    spec = EventSpec(event_type=event_type, source=source, data=data, subject=subject, template=template)
    event = _validated_event(spec, providers, actor=actor, idempotency_key=idempotency_key)
    try:
        create_events([event], providers, ring=ring, actor=actor)
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = Event.objects.get(idempotency_key=idempotency_key)  # a concurrent publish won the race
        existing.reused = True
        return existing
    return event


def publish_many(
    *,
    specs: Sequence[EventSpec],
    providers: Sequence[ProviderConfig],
    actor: Actor | None = None,
    ring: bool = True,
) -> list[Event]:
    """Publish many events to the same providers in one transaction: all or nothing.

    Raises PublishRejected naming each bad event (1-based) when any is invalid.
    """
    events = validated_events(specs, providers, actor=actor)
    create_events(events, providers, ring=ring, actor=actor)
    return events


def validated_events(
    specs: Sequence[EventSpec],
    providers: Sequence[ProviderConfig],
    *,
    actor: Actor | None,
    labels: Sequence[str] | None = None,
) -> list[Event]:
    """Unsaved events for specs that all pass every check; else PublishRejected with every
    problem, each prefixed by the event's label (default "event N", 1-based)."""
    events, errors = [], []
    for number, spec in enumerate(specs, start=1):
        try:
            events.append(_validated_event(spec, providers, actor=actor))
        except PublishRejected as rejected:
            label = labels[number - 1] if labels else f"event {number}"
            errors += [f"{label}: {error}" for error in rejected.errors]
    if errors:
        raise PublishRejected(errors)
    return events


def _validated_event(
    spec: EventSpec,
    providers: Sequence[ProviderConfig],
    *,
    actor: Actor | None,
    idempotency_key: str | None = None,
) -> Event:
    """An unsaved event, once it passes every check and fits every provider's limits."""
    errors = [] if providers else ["Choose at least one provider."]
    errors += envelope_problems(event_type=spec.event_type, source=spec.source, subject=spec.subject)
    problems = data_problems(spec.data)
    errors += problems
    if not problems and spec.template is not None and spec.template.json_schema:
        errors += [
            f"Template {spec.template.name}: {problem}"
            for problem in schema_problems(spec.template.json_schema, spec.data)
        ]
    errors += [f"{p.name} is disabled; enable it before publishing to it." for p in providers if not p.enabled]
    if errors:
        raise PublishRejected(errors)
    event = Event(
        id=uuid.uuid4(),
        type=spec.event_type,
        source=spec.source,
        subject=spec.subject,
        data=spec.data,
        created_by=actor.account if actor else None,
        created_at=timezone.now(),
        idempotency_key=idempotency_key or None,
    )
    outgoing = outgoing_event(event)
    for provider in providers:
        errors += [f"{provider.name}: {problem}" for problem in check_event(provider, outgoing)]
    if errors:
        raise PublishRejected(errors)
    return event


def create_events(
    events: Sequence[Event],
    providers: Sequence[ProviderConfig],
    *,
    ring: bool,
    actor: Actor | None,
    bulk_upload: BulkUpload | None = None,
) -> None:
    """Insert validated events (see `validated_events`), one delivery per provider each, the
    audit entry, and ring once per provider: one transaction. Events of a `bulk_upload` are
    linked to it and audited as one upload."""
    modes = {provider.pk: effective_mode(provider).mode for provider in providers}
    names = ", ".join(f"{p.name} ({modes[p.pk]})" for p in providers)
    action, target, summary = _publish_audit(events, names, bulk_upload)
    for event in events:
        event.bulk_upload = bulk_upload
    with transaction.atomic():
        Event.objects.bulk_create(events)
        Delivery.objects.bulk_create(
            [
                Delivery(
                    event=event,
                    provider=provider,
                    mode=modes[provider.pk],
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=event.created_at,
                )
                for event in events
                for provider in providers
            ],
            batch_size=1000,
        )
        for provider in providers:
            stats.add(provider_id=provider.pk, at=timezone.now(), created=len(events))
        audit.record(
            actor=actor,
            action=action,
            target=target,
            summary=summary,
            details={"events": [str(e.pk) for e in events[:100]], "providers": [p.name for p in providers]},
        )
        if ring:
            for provider in providers:
                ring_doorbell(provider.pk)


def _publish_audit(events: Sequence[Event], names: str, bulk_upload: BulkUpload | None) -> tuple[str, str, str]:
    """The audit entry's action, target and summary for a publish."""
    if bulk_upload is not None:
        what = f"bulk upload #{bulk_upload.pk}"
        how = bulk_upload.get_source_display()
        return AuditAction.BULK_UPLOAD, what, f"{what}: {len(events)} events ({how}) to {names}"
    if len(events) == 1:
        return AuditAction.PUBLISH, f"event {events[0].pk}", f"Published {events[0].type} to {names}"
    return AuditAction.PUBLISH, f"{len(events)} events", f"Published {len(events)} events to {names}"


def schema_problems(schema: dict[str, Any], data: Any) -> list[str]:
    """Where and how data breaks a JSON Schema, e.g. "data.lines[0].quantity: 0 is less than the minimum of 1"."""
    validator = validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = "data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        problems.append(f"{path}: {error.message}")
    return problems


def ring_doorbell(provider_id: int, *, force: bool = False) -> None:
    """Queue a task that sends the due deliveries of one provider config.

    Coalesced: while a send task for the provider is queued and not yet started, no other is
    queued (the queued one will find the new deliveries). `force` rings regardless (sweeper).
    With django-q2's ORM broker on the events database the task row commits or rolls back
    with the caller's transaction (a free outbox). Any other broker is rung after commit,
    and the sweeper covers a crash in between.
    """
    ProviderRuntime.objects.get_or_create(provider_id=provider_id)
    rung = ProviderRuntime.objects.filter(provider_id=provider_id, doorbell_pending=False).update(doorbell_pending=True)
    if not (rung or force):
        return
    if router.db_for_write(Delivery) == Conf.ORM or Conf.SYNC:
        _enqueue_send(provider_id)
    else:
        transaction.on_commit(lambda: _enqueue_send(provider_id))


def _enqueue_send(provider_id: int) -> None:
    async_task(
        SEND_TASK,
        provider_id,
        task_name=f"send-provider-{provider_id}-{uuid.uuid4().hex[:8]}",
        group=f"send-provider-{provider_id}",
    )


def answer_doorbell(provider_id: int) -> None:
    """A send task has started: the next new delivery must queue a task of its own."""
    ProviderRuntime.objects.filter(provider_id=provider_id, doorbell_pending=True).update(doorbell_pending=False)


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
        token, claimed = claim_due(provider_id=config.pk, limit=limit)
        if not claimed:
            break
        if len(claimed) == settings.HELIOS_SEND_BATCH_SIZE:
            ring_doorbell(config.pk)  # a backlog: let another idle worker claim the next batch in parallel
        summary.claimed += len(claimed)
        for outcome in send_claimed(config=config, token=token, deliveries=claimed):
            summary.count(outcome)
    return summary


def claim_due(*, provider_id: int, limit: int) -> tuple[uuid.UUID, list[Delivery]]:
    """Claim up to `limit` due deliveries of one provider with a lease.

    A conditional update (and FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serializes
    writers with IMMEDIATE transactions) means no two workers hold the same delivery.
    """
    now = timezone.now()
    token = uuid.uuid4()
    due = (
        Delivery.objects.filter(provider_id=provider_id, status__in=DUE_STATUSES, next_attempt_at__lte=now)
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
        if mode == ProviderMode.PRODUCTION and not current.is_production:
            results = [production_unavailable(event.id, current.reason) for event in events]
        else:
            results = client_for(config, mode).publish(events, after_batch=lease)
        latency_ms = int((time.monotonic() - started) * 1000)
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
            latency_ms=latency_ms,
        )
        outcomes += on_fresh_connection(record, until=lease.expires)
        failed = sum(r.outcome is Outcome.RETRYABLE_ERROR and r.error_code not in NOT_PROVIDER_HEALTH for r in results)
        count = functools.partial(circuit.record, config, succeeded=sum(r.ok for r in results), failed=failed)
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
    )


def record_results(
    *,
    token: uuid.UUID,
    entries: Sequence[tuple[Delivery, PublishResult]],
    mode: str,
    policy: ProviderConfig,
    started_at: datetime,
    finished_at: datetime,
    latency_ms: int,
    outcome_unknown: bool = False,
) -> list[str]:
    """Record one attempt per delivery and move each to its next status; return the statuses.

    Only deliveries still held by this claim are updated (the sweeper may have recovered an
    expired lease meanwhile: that attempt is already recorded as unknown). `outcome_unknown`
    marks attempts whose result was never seen: they are retried at once, not after a backoff.
    A few queries per batch, whatever its size.
    """
    for delivery, result in entries:
        _apply_outcome(delivery, result, mode=mode, policy=policy, now=finished_at, retry_now=outcome_unknown)
    with transaction.atomic():
        succeeded = [d for d, _ in entries if d.status == DeliveryStatus.SUCCEEDED]
        held = _record_successes(succeeded, token=token, mode=mode, now=finished_at, latency_ms=latency_ms)
        for delivery, _ in entries:
            if delivery.status != DeliveryStatus.SUCCEEDED and Delivery.objects.filter(
                pk=delivery.pk, claim_token=token, status=DeliveryStatus.SENDING
            ).update(**{name: getattr(delivery, name) for name in FAILURE_FIELDS}, latency_ms=latency_ms):
                held.add(delivery.pk)
        _insert_attempts(
            [
                (
                    delivery.pk,
                    delivery.attempts,
                    AttemptOutcome.UNKNOWN if outcome_unknown else result.outcome.value,
                    result.error_code[:128],
                    result.error_message,
                    result.message_id,
                    result.status_code,
                )
                for delivery, result in entries
                if delivery.pk in held
            ],
            mode=mode,
            started_at=started_at,
            finished_at=finished_at,
        )
        finished = Counter(d.status for d, _ in entries if d.pk in held)
        stats.add(
            provider_id=policy.pk,
            at=finished_at,
            succeeded=finished[DeliveryStatus.SUCCEEDED],
            failed=finished[DeliveryStatus.FAILED] + finished[DeliveryStatus.DEAD],
            latencies_ms=[latency_ms] * finished[DeliveryStatus.SUCCEEDED],
        )
    statuses = []
    for delivery, result in entries:
        if delivery.pk in held:
            statuses.append(delivery.status)
        else:
            with logs.bind(delivery_id=delivery.pk, event_id=delivery.event_id):
                logger.warning(
                    "delivery %s: lease lost before the outcome (%s %s) was recorded; it will be sent again",
                    delivery.pk,
                    result.outcome.value,
                    result.error_code or result.message_id,
                )
            statuses.append("lease_lost")
    return statuses


def _record_successes(
    deliveries: Sequence[Delivery], *, token: uuid.UUID, mode: str, now: datetime, latency_ms: int
) -> set[int]:
    """Mark the successes still held by the claim, each with its own message id, in one
    statement (UPDATE … FROM a VALUES list … RETURNING; PostgreSQL and SQLite ≥ 3.35).
    Returns the ids it updated. Django's bulk_update (a CASE per column) was 10x slower here."""
    if not deliveries:
        return set()
    table = connection.ops.quote_name(Delivery._meta.db_table)
    rows = ", ".join(["(%s, %s)"] * len(deliveries))
    timestamp = connection.ops.adapt_datetimefield_value(now)
    claim = Delivery._meta.get_field("claim_token").get_db_prep_value(token, connection)
    params = [value for d in deliveries for value in (d.pk, d.provider_message_id)]
    params += [
        DeliveryStatus.SUCCEEDED.value,
        mode,
        latency_ms,
        timestamp,
        timestamp,
        claim,
        DeliveryStatus.SENDING.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH ids(id, message_id) AS (VALUES {rows}) "
            f"UPDATE {table} SET status = %s, mode = %s, latency_ms = %s, lease_expires_at = NULL, "
            f"claim_token = NULL, updated_at = %s, completed_at = %s, next_attempt_at = NULL, "
            f"provider_message_id = ids.message_id "
            f"FROM ids WHERE {table}.id = ids.id AND {table}.claim_token = %s AND {table}.status = %s "
            f"RETURNING {table}.id",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


#: Per-attempt columns of `_insert_attempts`' rows, then the columns shared by a whole call.
ATTEMPT_ROW_COLUMNS = ["delivery_id", "number", "outcome", "error_code", "error_message", "provider_message_id"]
ATTEMPT_ROW_COLUMNS += ["status_code"]
ATTEMPT_CALL_COLUMNS = ["mode", "started_at", "finished_at"]


def _insert_attempts(rows: Sequence[tuple], *, mode: str, started_at: datetime, finished_at: datetime) -> None:
    """Insert one attempt per row (values in ATTEMPT_ROW_COLUMNS order) with multi-row INSERTs.

    The hot path of every send: building model instances for `bulk_create` cost more than
    the provider call for a large batch."""
    if not rows:
        return
    table = connection.ops.quote_name(DeliveryAttempt._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ATTEMPT_ROW_COLUMNS + ATTEMPT_CALL_COLUMNS)
    shared = (mode, connection.ops.adapt_datetimefield_value(started_at))
    shared += (connection.ops.adapt_datetimefield_value(finished_at),)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # COPY: several times faster than a long INSERT
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, *shared))
            return
        width = len(ATTEMPT_ROW_COLUMNS) + len(ATTEMPT_CALL_COLUMNS)
        chunk = max(connection.ops.bulk_batch_size(ATTEMPT_ROW_COLUMNS + ATTEMPT_CALL_COLUMNS, rows), 1)
        placeholder = "(" + ", ".join(["%s"] * width) + ")"
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholder] * len(part))}",
                [value for row in part for value in (*row, *shared)],
            )


#: What a failed attempt changes on its delivery (besides latency).
FAILURE_FIELDS = [
    "mode",
    "status",
    "lease_expires_at",
    "claim_token",
    "updated_at",
    "completed_at",
    "next_attempt_at",
    "last_error_code",
    "last_error",
]


def _apply_outcome(
    delivery: Delivery, result: PublishResult, *, mode: str, policy: ProviderConfig, now: datetime, retry_now: bool
) -> None:
    """Set the delivery's fields after one attempt: succeeded, failed, dead, or retrying."""
    delivery.mode = mode
    delivery.lease_expires_at = delivery.claim_token = None
    delivery.updated_at = now
    if result.outcome is Outcome.SUCCEEDED:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.provider_message_id = result.message_id
        delivery.completed_at, delivery.next_attempt_at = now, None
        return
    delivery.last_error_code, delivery.last_error = result.error_code[:128], result.error_message
    expired = now - delivery.created_at >= timedelta(hours=policy.max_age_hours)
    if result.outcome is Outcome.PERMANENT_ERROR:
        delivery.status = DeliveryStatus.FAILED
    elif delivery.attempts >= policy.max_attempts or expired:
        delivery.status = DeliveryStatus.DEAD
        if expired:
            delivery.last_error += f" Retry window of {policy.max_age_hours} h is over."
    else:
        delivery.status = DeliveryStatus.RETRYING
        delay = 0.0 if retry_now else max(backoff_seconds(delivery.attempts), result.retry_after_seconds or 0.0)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        return
    delivery.completed_at, delivery.next_attempt_at = now, None


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter after `attempts` failed attempts."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return random.uniform(0, ceiling)


@dataclass
class SweepReport:
    """What one sweep did."""

    leases_recovered: int = 0
    providers_rung: list[int] = field(default_factory=list)


def sweep() -> SweepReport:
    """Recover expired leases, then ring the doorbell for every provider with due work."""
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
                    ),
                )
            ],
            mode=delivery.mode,
            policy=delivery.provider,
            started_at=delivery.lease_expires_at - timedelta(seconds=settings.HELIOS_LEASE_SECONDS),
            finished_at=now,
            latency_ms=0,
            outcome_unknown=True,
        )
        report.leases_recovered += 1
    due = Delivery.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now, provider__enabled=True)
    report.providers_rung = sorted(set(due.values_list("provider_id", flat=True)))
    for provider_id in report.providers_rung:
        ring_doorbell(provider_id, force=True)
    return report


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
