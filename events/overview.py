"""The operations home's reads: per provider config, what is happening now and since when.

Every figure comes from an index or a small table: the hourly rollup (24 h attempt rates), the
attempts of the last 15 minutes (by their finish time), the open deliveries (by provider and
status), the providers' runtime rows (circuit, last success, last error) and the circuit's
incident records."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from core.badges import plural
from providers.circuit import CircuitStatus, circuit_status
from providers.models import (
    CircuitState,
    CircuitTransition,
    ProviderConfig,
    ProviderRuntime,
    PullState,
    ReceiverSettings,
    RoundTripMethod,
)
from providers.modes import EffectiveMode, effective_mode
from providers.simulation import simulation_words

from . import stats
from .models import OPEN_STATUSES, AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus, HourlyStats

RECENT_WINDOW = timedelta(minutes=15)
#: A due delivery waiting longer than this past its due time is overdue (the worker is behind).
OVERDUE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class FailureRate:
    """Attempts in a window and the share that did not succeed."""

    attempts: int
    failed: int

    @property
    def percent(self) -> float | None:
        """The failed share in percent, one decimal (None without attempts)."""
        return round(100 * self.failed / self.attempts, 1) if self.attempts else None


@dataclass
class ProviderOverview:
    """One provider config on the operations home."""

    config: ProviderConfig
    mode: EffectiveMode
    circuit: CircuitStatus
    pending: int = 0
    sending: int = 0
    retrying: int = 0
    #: The earliest next attempt among pending and retrying deliveries.
    oldest_due: datetime | None = None
    recent: FailureRate = field(default_factory=lambda: FailureRate(0, 0))
    day: FailureRate = field(default_factory=lambda: FailureRate(0, 0))
    failed_day: int = 0
    runtime: ProviderRuntime | None = None
    #: The pull round trip's poller, when the config's receiver pulls.
    pull: PullState | None = None

    @property
    def pull_words(self) -> str:
        """The poller in a few words: "polled 40 s ago, 12 received", "pull failing (3 polls): …", "not polled yet"."""
        if self.pull is None:
            return ""
        if self.pull.consecutive_failures:
            next_try = f" · next try {self.pull.next_poll_at:%H:%M:%S} UTC" if self.pull.next_poll_at else ""
            polls = plural(self.pull.consecutive_failures, "poll")
            return f"pull failing ({polls}): {self.pull.last_error}{next_try}"
        if self.pull.last_poll_at is None:
            return "pull: not polled yet"
        return f"pull: polled {_ago(self.pull.last_poll_at)}, {self.pull.last_received} received"

    @property
    def simulation(self) -> str:
        """What demo mode simulates for this config, when it is in demo ("" otherwise, or when plain)."""
        return "" if self.mode.is_production else simulation_words(self.config)

    @property
    def backlog(self) -> int:
        """Deliveries not final yet."""
        return self.pending + self.sending + self.retrying

    @property
    def due_in_words(self) -> str:
        """The oldest due delivery relative to now: "due now", "in 40 s", "3 min 5 s overdue"."""
        if self.oldest_due is None:
            return ""
        seconds = round((self.oldest_due - timezone.now()).total_seconds())
        if abs(seconds) < 2:
            return "due now"
        return f"in {_duration(seconds)}" if seconds > 0 else f"{_duration(-seconds)} overdue"

    @property
    def last_error_age(self) -> str:
        """How long ago the last error was: "40 s ago" ("" without one)."""
        return _ago(self.runtime.last_error_at) if self.runtime else ""

    @property
    def last_success_age(self) -> str:
        """How long ago the last success was ("" without one)."""
        return _ago(self.runtime.last_success_at) if self.runtime else ""

    @property
    def overdue(self) -> bool:
        """The oldest due delivery waits well past its time."""
        return self.oldest_due is not None and timezone.now() - self.oldest_due > OVERDUE_AFTER


def _duration(seconds: int) -> str:
    """A short duration: "40 s", "3 min 5 s", "2 h 10 min"."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f"{_duration(max(round((timezone.now() - moment).total_seconds()), 0))} ago"


def provider_overview() -> list[ProviderOverview]:
    """Every provider config, enabled first, with its mode, circuit, backlog and failure rates."""
    now = timezone.now()
    runtimes = {r.provider_id: r for r in ProviderRuntime.objects.all()}
    rows = {
        config.pk: ProviderOverview(
            config=config, mode=effective_mode(config), circuit=circuit_status(config), runtime=runtimes.get(config.pk)
        )
        for config in ProviderConfig.objects.order_by("-enabled", "name")
    }
    pulling = list(
        ReceiverSettings.objects.filter(method=RoundTripMethod.PULL, enabled=True).values_list("provider_id", flat=True)
    )
    states = {s.provider_id: s for s in PullState.objects.filter(provider_id__in=pulling)}
    for provider_id in pulling:
        if overview := rows.get(provider_id):
            overview.pull = states.get(provider_id) or PullState(provider_id=provider_id)
    open_deliveries = (
        Delivery.objects.filter(status__in=OPEN_STATUSES)
        .values("provider_id", "status")
        .annotate(n=Count("id"), due=Min("next_attempt_at"))
        .order_by()
    )
    for row in open_deliveries:
        overview = rows.get(row["provider_id"])
        if overview is None:
            continue
        setattr(overview, row["status"], row["n"])
        if row["status"] != DeliveryStatus.SENDING and row["due"] is not None:
            overview.oldest_due = min(filter(None, [overview.oldest_due, row["due"]]))
    recent = (
        DeliveryAttempt.objects.filter(finished_at__gte=now - RECENT_WINDOW)
        .values("delivery__provider_id")
        .annotate(n=Count("id"), failed=Count("id", filter=~Q(outcome=AttemptOutcome.SUCCEEDED)))
        .order_by()
    )
    for row in recent:
        if overview := rows.get(row["delivery__provider_id"]):
            overview.recent = FailureRate(row["n"], row["failed"])
    day = (
        HourlyStats.objects.filter(hour__gte=stats.hour_of(now - timedelta(hours=24)))
        .values("provider_id")
        .annotate(tried=Sum("attempts"), tried_failed=Sum("attempts_failed"), finals_failed=Sum("failed"))
        .order_by()
    )
    for row in day:
        if overview := rows.get(row["provider_id"]):
            overview.day = FailureRate(row["tried"] or 0, row["tried_failed"] or 0)
            overview.failed_day = row["finals_failed"] or 0
    return list(rows.values())


def recent_failures(limit: int = 10) -> list[Delivery]:
    """The newest deliveries that failed for good (failed or dead), newest first."""
    finals = Delivery.objects.filter(status__in=[DeliveryStatus.FAILED, DeliveryStatus.DEAD])
    return list(finals.select_related("event", "provider").order_by("-created_at")[:limit])


def recent_incidents(*, hours: int = 24, limit: int = 10) -> list[CircuitTransition]:
    """Circuits that opened (from closed) or closed again in the last hours, newest first; the
    probes in between are left out."""
    since = timezone.now() - timedelta(hours=hours)
    opened_or_closed = Q(from_state=CircuitState.CLOSED, to_state=CircuitState.OPEN) | Q(to_state=CircuitState.CLOSED)
    transitions = CircuitTransition.objects.filter(opened_or_closed, at__gte=since)
    return list(transitions.select_related("provider")[:limit])
