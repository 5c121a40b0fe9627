"""Replay a window: events chosen by time and filters, sent again with the same event ids to one
or more provider configs, in the background at a bounded rate, with progress, cancellable,
audited. A delivery that had finished is made due again (one more attempt, in its history); a
delivery still on its way is left alone (counted as skipped); a config the event never went to
gets a new delivery. Every one of them is recorded as a `Resend` of the replay.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from core import audit, tracing
from core.audit import Actor
from core.badges import plural
from core.models import AuditAction
from providers.models import ProviderConfig
from providers.production import NO_GRANT, ProductionGrant, production_names

from ..models import FINAL_STATUSES, Delivery, Event, Replay, ReplayState, Resend
from .doorbell import ring_doorbells
from .resending import add_deliveries, make_due_now
from .validation import PublishRejected

logger = logging.getLogger(__name__)

RUN_TASK = "events.tasks.run_replay"
#: The most events a replay handles per second, whatever is asked.
MAX_RATE = 1000


@dataclass(frozen=True)
class ReplayFilter:
    """Which events a replay sends again: created in [since, until), and each filter given."""

    since: datetime
    until: datetime
    event_type: str = ""
    source: str = ""
    subject_prefix: str = ""
    #: A delivery of the event went to this provider config (by name), with this status, by this route.
    provider: str = ""
    status: str = ""
    route: str = ""

    def filters(self) -> dict[str, str]:
        """The filters given (the window aside), as stored on the replay."""
        return {name: value for name, value in asdict(self).items() if value and name not in ("since", "until")}

    @classmethod
    def of(cls, replay: Replay) -> "ReplayFilter":
        """The filter a replay was started with."""
        return cls(since=replay.since, until=replay.until, **replay.filters)

    def describe(self) -> str:
        """The choice in one line."""
        given = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in self.filters().items())
        return f"events created {self.since:%Y-%m-%d %H:%M:%S} to {self.until:%Y-%m-%d %H:%M:%S} UTC" + (
            f" ({given})" if given else ""
        )


def chosen_events(choice: ReplayFilter) -> QuerySet[Event]:
    """The events a replay with this filter sends again, oldest first."""
    events = Event.objects.filter(created_at__gte=choice.since, created_at__lt=choice.until)
    if choice.event_type:
        events = events.filter(type=choice.event_type)
    if choice.source:
        events = events.filter(source=choice.source)
    if choice.subject_prefix:
        events = events.filter(subject__startswith=choice.subject_prefix)
    delivered = Q()
    if choice.provider:
        delivered &= Q(provider__name=choice.provider)
    if choice.status:
        delivered &= Q(status=choice.status)
    if choice.route:
        delivered &= Q(route__name=choice.route)
    if delivered:
        events = events.filter(Exists(Delivery.objects.filter(delivered, event=OuterRef("pk"))))
    return events.order_by("created_at", "id")


def dry_run(choice: ReplayFilter, *, sample: int = 10) -> tuple[int, list[Event]]:
    """How many events the replay would send again, and the first few."""
    events = chosen_events(choice)
    return events.count(), list(events[:sample])


def start_replay(
    choice: ReplayFilter,
    providers: Sequence[ProviderConfig],
    *,
    rate_per_second: int = 50,
    grant: ProductionGrant = NO_GRANT,
    actor: Actor | None = None,
) -> Replay:
    """Queue a replay (audited), or raise PublishRejected with the reasons, creating nothing."""
    errors = []
    if choice.since >= choice.until:
        errors.append("The window is empty: its start must come before its end.")
    if not providers:
        errors.append("Choose at least one provider config to send to.")
    errors += [f"{p.name} is disabled; enable it before replaying to it." for p in providers if not p.enabled]
    if not 1 <= rate_per_second <= MAX_RATE:
        errors.append(f"The rate must be 1 to {MAX_RATE:,} events a second.")
    if problem := grant.problem(providers):
        errors.append(problem)
    total = chosen_events(choice).count() if not errors else 0
    if not errors and not total:
        errors.append(f"No event matches: {choice.describe()}.")
    if errors:
        raise PublishRejected(errors)
    names = ", ".join(p.name for p in providers)
    with transaction.atomic():
        replay = Replay.objects.create(
            created_by=actor.account if actor else None,
            since=choice.since,
            until=choice.until,
            filters=choice.filters(),
            rate_per_second=rate_per_second,
            total=total,
        )
        replay.providers.set(providers)
        production = production_names(providers)
        audit.record(
            actor=actor,
            action=AuditAction.REPLAY,
            target=f"replay #{replay.pk}",
            summary=f"Replay of {plural(total, 'event')} to {names}" + (" (PRODUCTION)" if production else ""),
            details={"filters": choice.filters(), "since": str(choice.since), "until": str(choice.until)},
        )
        transaction.on_commit(lambda: async_task(RUN_TASK, replay.pk, task_name=f"replay-{replay.pk}"))
    return replay


def cancel_replay(replay: Replay, *, actor: Actor | None = None) -> None:
    """Stop a replay: it ends before its next batch (what was sent stays sent); audited."""
    with transaction.atomic():
        updated = Replay.objects.filter(pk=replay.pk, state__in=[ReplayState.QUEUED, ReplayState.RUNNING]).update(
            cancel_requested=True
        )
        if updated:
            audit.record(
                actor=actor, action=AuditAction.REPLAY_CANCEL, target=f"replay #{replay.pk}", summary="cancelled"
            )
    replay.refresh_from_db()


def resume_stalled(*, stalled_after: timedelta) -> list[int]:
    """Queue again the replays not finished whose progress stood still longer than
    `stalled_after` (their task was lost: a broker without receipts, a worker killed); they go
    on from their cursor, so nothing is sent twice. Returns their ids."""
    stalled = Replay.objects.filter(
        state__in=[ReplayState.QUEUED, ReplayState.RUNNING], updated_at__lt=timezone.now() - stalled_after
    )
    ids = list(stalled.values_list("pk", flat=True))
    for replay_id in ids:
        Replay.objects.filter(pk=replay_id).update(updated_at=timezone.now())
        async_task(RUN_TASK, replay_id, task_name=f"replay-{replay_id}-resumed")
        logger.warning("replay #%s had stood still for over %s: queued again from its cursor", replay_id, stalled_after)
    return ids


@tracing.traced("replay")
def run_replay(replay_id: int, *, budget_seconds: float) -> Replay:
    """Work a replay: a batch of `rate_per_second` events a second from its cursor, until done,
    cancelled or the budget is spent (then a new task goes on from the cursor)."""
    tracing.annotate(helios_replay=replay_id)
    replay = Replay.objects.get(pk=replay_id)
    if replay.final:
        return replay
    replay.state = ReplayState.RUNNING
    replay.save(update_fields=["state", "updated_at"])
    targets = list(replay.providers.all())
    events = chosen_events(ReplayFilter.of(replay))
    deadline = time.monotonic() + budget_seconds
    while True:
        started = time.monotonic()
        replay.refresh_from_db(fields=["cancel_requested"])
        if replay.cancel_requested:
            return _finish(replay, ReplayState.CANCELLED)
        after = events
        if replay.cursor_created_at is not None:
            after = events.filter(
                Q(created_at__gt=replay.cursor_created_at)
                | Q(created_at=replay.cursor_created_at, id__gt=replay.cursor_event_id)
            )
        batch = list(after[: replay.rate_per_second])
        if not batch:
            return _finish(replay, ReplayState.DONE)
        with transaction.atomic():
            sent, skipped = _send_again(batch, targets, replay)
            replay.done += len(batch)
            replay.sent += sent
            replay.skipped += skipped
            replay.cursor_created_at, replay.cursor_event_id = batch[-1].created_at, batch[-1].id
            replay.save(update_fields=["done", "sent", "skipped", "cursor_created_at", "cursor_event_id", "updated_at"])
        if len(batch) < replay.rate_per_second:
            return _finish(replay, ReplayState.DONE)
        if time.monotonic() >= deadline:
            async_task(RUN_TASK, replay.pk, task_name=f"replay-{replay.pk}-{replay.done}")
            return replay
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


def _send_again(events: list[Event], targets: list[ProviderConfig], replay: Replay) -> tuple[int, int]:
    """One batch: finished deliveries made due again, missing ones made, open ones skipped;
    each recorded as a Resend of the replay. Returns (sent, skipped)."""
    now = timezone.now()
    existing = {(d.event_id, d.provider_id): d for d in Delivery.objects.filter(event__in=events, provider__in=targets)}
    again = [d.pk for d in existing.values() if d.status in FINAL_STATUSES]
    skipped = len(existing) - len(again)
    make_due_now(Delivery.objects.filter(pk__in=again), now=now)
    fresh = add_deliveries(
        [(event, target) for event in events for target in targets if (event.pk, target.pk) not in existing], now=now
    )
    Resend.objects.bulk_create(
        [Resend(delivery_id=pk, replay=replay, at=now) for pk in again]
        + [Resend(delivery=d, replay=replay, at=now) for d in fresh]
    )
    ring_doorbells(t.pk for t in targets)
    return len(again) + len(fresh), skipped


def _finish(replay: Replay, state: str) -> Replay:
    replay.state, replay.finished_at = state, timezone.now()
    replay.save(update_fields=["state", "finished_at", "updated_at"])
    logger.info(
        "replay #%s %s: %d of %d events, %d deliveries sent", replay.pk, state, replay.done, replay.total, replay.sent
    )
    return replay
