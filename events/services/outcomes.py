"""Outcomes: one attempt per delivery and its next status (succeeded, retrying with backoff,
failed, dead), written in a few statements per batch. All the engine's hand-written SQL is here."""

import logging
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connection, transaction

from core import logs
from core.redaction import environment_secrets, stored_text
from providers.clients.base import Outcome, PublishResult
from providers.models import ProviderConfig

from .. import stats
from ..models import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
)
from .rows import insert_rows

logger = logging.getLogger(__name__)


BACKOFF_BASE_SECONDS = 2.0


BACKOFF_CAP_SECONDS = 30 * 60.0


def record_results(
    *,
    token: uuid.UUID,
    entries: Sequence[tuple[Delivery, PublishResult]],
    mode: str,
    policy: ProviderConfig,
    started_at: datetime,
    finished_at: datetime,
    call_ms: int,
    outcome_unknown: bool = False,
    traceparent: str = "",
) -> list[str]:
    """Record one attempt per delivery and move each to its next status; return the statuses.

    `call_ms` is the provider call's time for all the entries; each delivery's latency is its
    share (the call's time divided by the entries: no cloud reports a per-entry time).

    Only deliveries still held by this claim are updated (the sweeper may have recovered an
    expired lease meanwhile: that attempt is already recorded as unknown). `outcome_unknown`
    marks attempts whose result was never seen: they are retried at once, not after a backoff.
    `traceparent`: the context of the span that made the provider call, kept on each attempt.
    A few queries per batch, whatever its size.
    """
    for delivery, result in entries:
        _apply_outcome(delivery, result, mode=mode, policy=policy, now=finished_at, at_once=outcome_unknown)
    latency_ms = round(call_ms / len(entries)) if entries else call_ms
    secrets = environment_secrets()
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
                    "" if result.sent is None else stored_text(result.sent, secrets),
                    stored_text(result.response, secrets),
                )
                for delivery, result in entries
                if delivery.pk in held
            ],
            mode=mode,
            started_at=started_at,
            finished_at=finished_at,
            traceparent=traceparent,
        )
        finished = Counter(d.status for d, _ in entries if d.pk in held)
        stats.add(
            provider_id=policy.pk,
            at=finished_at,
            succeeded=finished[DeliveryStatus.SUCCEEDED],
            failed=finished[DeliveryStatus.FAILED] + finished[DeliveryStatus.DEAD],
            latencies_ms=[latency_ms] * finished[DeliveryStatus.SUCCEEDED],
            attempts=sum(finished.values()),
            attempts_failed=sum(finished.values()) - finished[DeliveryStatus.SUCCEEDED],
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
ATTEMPT_ROW_COLUMNS = [
    "delivery_id",
    "number",
    "outcome",
    "error_code",
    "error_message",
    "provider_message_id",
    "status_code",
    "request_body",
    "response_body",
]
ATTEMPT_CALL_COLUMNS = ["mode", "started_at", "finished_at", "traceparent"]


def _insert_attempts(
    rows: Sequence[tuple], *, mode: str, started_at: datetime, finished_at: datetime, traceparent: str
) -> None:
    """Insert one attempt per row (values in ATTEMPT_ROW_COLUMNS order) in one go (rows.py).

    The hot path of every send: building model instances for `bulk_create` cost more than
    the provider call for a large batch."""
    shared = (mode, connection.ops.adapt_datetimefield_value(started_at))
    shared += (connection.ops.adapt_datetimefield_value(finished_at), traceparent)
    insert_rows(DeliveryAttempt, ATTEMPT_ROW_COLUMNS + ATTEMPT_CALL_COLUMNS, [(*row, *shared) for row in rows])


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
    delivery: Delivery, result: PublishResult, *, mode: str, policy: ProviderConfig, now: datetime, at_once: bool
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
        delay = 0.0 if at_once else max(backoff_seconds(delivery.attempts), result.retry_after_seconds or 0.0)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        return
    delivery.completed_at, delivery.next_attempt_at = now, None


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter after `attempts` failed attempts."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return random.uniform(0, ceiling)
