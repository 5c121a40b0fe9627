"""The pull round trip's pollers: each production config whose receiver is set to pull is polled
by a django-q2 task. One claim per subscription at a time (a lease on its `PullState`), bounded
batches and time, exponential backoff after a cloud error.

Pulled events become receipts exactly like pushed ones (`receipts.record_arrivals`: matching,
duplicate counting, confirmation). A message is acknowledged only after its receipt committed:
a crash in between means the cloud delivers it again and it counts as a duplicate arrival, never
as lost. A message HELIOS cannot parse is recorded as unexpected and settled (acknowledged, or
rejected where the cloud can dead-letter it), so it is not redelivered forever.
"""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from core.redaction import redact
from providers.inbound.puller import PullFailed
from providers.kinds import spec_for
from providers.live_clients import puller_for
from providers.models import ProviderConfig, ProviderMode, PullState, RoundTripMethod
from providers.modes import effective_mode

from .receipts import record_arrivals

logger = logging.getLogger(__name__)

POLL_TASK = "events.tasks.poll_subscription"
#: The first backoff after a failed poll, doubled per further failure, capped.
BACKOFF_FIRST_SECONDS = 30
BACKOFF_MAX_SECONDS = 15 * 60


@dataclass(frozen=True)
class PollReport:
    """What one poll did: messages received, receipts new and duplicate, confirmations,
    messages HELIOS could not parse, and the error that ended it (if any)."""

    provider: str
    claimed: bool
    received: int = 0
    new: int = 0
    duplicates: int = 0
    confirmed: int = 0
    unparsable: int = 0
    error: str = ""


def pulling_configs() -> list[ProviderConfig]:
    """Enabled configs whose enabled receiver is set to pull, in production (demo mode plays the
    cloud's round trip itself)."""
    configs = ProviderConfig.objects.filter(
        enabled=True, receiver__enabled=True, receiver__method=RoundTripMethod.PULL, mode=ProviderMode.PRODUCTION
    ).select_related("receiver")
    return [c for c in configs if effective_mode(c).mode == ProviderMode.PRODUCTION]


def queue_due_polls(now: datetime | None = None) -> list[int]:
    """Scheduled: queue a poll task for each pulling config that is due (not backing off, not
    claimed); returns their ids."""
    now = now or timezone.now()
    ids = [c.pk for c in pulling_configs()]
    for provider_id in ids:
        PullState.objects.get_or_create(provider_id=provider_id)
    due = PullState.objects.filter(provider_id__in=ids).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now), Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    queued = list(due.values_list("provider_id", flat=True))
    for provider_id in queued:
        async_task(POLL_TASK, provider_id, task_name=f"poll-provider-{provider_id}-{uuid.uuid4().hex[:8]}")
    return queued


def poll(provider_id: int, *, budget_seconds: float, now: datetime | None = None) -> PollReport:
    """Claim the config's subscription, pull until it is empty, the batch is full or the time is
    spent, record and settle what came, release the claim; backoff after an error."""
    config = ProviderConfig.objects.filter(pk=provider_id).select_related("receiver").first()
    if config is None or config.pk not in {c.pk for c in pulling_configs()}:
        return PollReport(provider=config.name if config else str(provider_id), claimed=False)  # no longer pulls
    now = now or timezone.now()
    token = uuid.uuid4().hex
    lease = timedelta(seconds=budget_seconds + config.receiver.pull_wait_seconds + 60)
    PullState.objects.get_or_create(provider_id=provider_id)
    claimed = PullState.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), provider_id=provider_id
    ).update(lease_until=now + lease, lease_token=token)
    if not claimed:
        return PollReport(provider=config.name, claimed=False)
    try:
        report = _pull(config, budget_seconds=budget_seconds)
    except Exception as exc:  # HELIOS's own trouble (the database, credentials): back off, then raise
        failed = PollReport(config.name, claimed=True, error=redact(f"HELIOS could not poll: {exc}"))
        _release(provider_id, token, failed)
        raise
    _release(provider_id, token, report)
    return report


def _pull(config: ProviderConfig, *, budget_seconds: float) -> PollReport:
    receiver = spec_for(config.kind).receiver
    via = receiver.pull_via if receiver is not None else ""
    deadline = time.monotonic() + budget_seconds
    limit = config.receiver.pull_batch
    totals = {"received": 0, "new": 0, "duplicates": 0, "confirmed": 0, "unparsable": 0}
    puller = puller_for(config)
    try:
        while totals["received"] < limit and time.monotonic() < deadline:
            pulled = puller.receive(limit - totals["received"])
            if not pulled:
                break
            summary = record_arrivals(provider=config, events=[p.event for p in pulled], via=via, operation="pull")
            puller.acknowledge([p.handle for p in pulled if not p.problem])
            puller.discard([p.handle for p in pulled if p.problem])
            totals["received"] += len(pulled)
            totals["unparsable"] += sum(1 for p in pulled if p.problem)
            totals["new"] += summary.new
            totals["duplicates"] += summary.duplicates
            totals["confirmed"] += summary.confirmed
    except PullFailed as failure:
        error = redact(str(failure))  # an SDK's words, kept and shown: never with a secret in them
        logger.warning("pull round trip of %s failed: %s", config.name, error)
        return PollReport(provider=config.name, claimed=True, error=error, **totals)
    finally:
        puller.close()
    return PollReport(provider=config.name, claimed=True, **totals)


def _release(provider_id: int, token: str, report: PollReport) -> None:
    """End the claim: record the poll, and when it failed, back off (30 s doubling to 15 min)."""
    now = timezone.now()
    state = PullState.objects.get(provider_id=provider_id)
    if state.lease_token != token:
        return  # the lease ran out and another poller holds it now
    state.lease_until, state.lease_token, state.last_poll_at = None, "", now
    state.last_received = report.received
    state.received_total += report.received
    if report.error:
        state.consecutive_failures += 1
        backoff = min(BACKOFF_FIRST_SECONDS * 2 ** (state.consecutive_failures - 1), BACKOFF_MAX_SECONDS)
        state.next_poll_at = now + timedelta(seconds=backoff)
        state.last_error, state.last_error_at = report.error[:500], now
    else:
        state.consecutive_failures, state.next_poll_at, state.last_success_at = 0, None, now
    state.save()
