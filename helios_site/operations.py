"""The operations home: is anything wrong, where, since when, and what to do — at a glance."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from core.badges import plural
from core.models import WorkerStall
from events.models import DeliveryStatus
from events.overview import ProviderOverview, provider_overview, recent_failures, recent_incidents
from gateway import expansion

from .health import worker_health

#: A share of failed attempts in the last 15 minutes that needs attention (with enough attempts).
ATTENTION_FAILURE_PERCENT = 10.0
ATTENTION_MIN_ATTEMPTS = 5
#: How long an accepted API request may wait for expansion before it needs attention.
ACCEPT_LOG_ATTENTION_SECONDS = 60
#: How long a worker stall stays under "Needs attention".
STALL_ATTENTION_HOURS = 1


@dataclass(frozen=True)
class Attention:
    """One thing an operator should look at: what, and where to look."""

    text: str
    url: str = ""


def attention(rows: list[ProviderOverview], worker: dict[str, Any]) -> list[Attention]:
    """What needs attention now, most severe first."""
    deliveries = reverse("admin:events_delivery_changelist")
    found = []
    if not worker["ok"]:
        found.append(Attention(f"No worker is sending: {worker['detail']}."))
    found += stall_attention()
    found += accept_log_attention()
    for row in rows:
        if not row.config.enabled:
            continue
        name, by_provider = row.config.name, f"{deliveries}?provider__id__exact={row.config.pk}"
        if not row.circuit.is_closed:
            found.append(Attention(f"{name}: {row.circuit.sentence()}", by_provider))
        if row.config.mode == "production" and not row.mode.is_production:
            found.append(Attention(f"{name} should send to production but sends in demo: {row.mode.reason}."))
        if row.recent.attempts >= ATTENTION_MIN_ATTEMPTS and (row.recent.percent or 0) >= ATTENTION_FAILURE_PERCENT:
            found.append(
                Attention(
                    f"{name}: {row.recent.percent:g} % of {row.recent.attempts} attempts failed "
                    "in the last 15 minutes.",
                    f"{by_provider}&status__exact={DeliveryStatus.RETRYING}",
                )
            )
        if row.pull is not None and row.pull.consecutive_failures:
            found.append(Attention(f"{name}: {row.pull_words}"))
        if row.overdue:
            found.append(
                Attention(
                    f"{name}: deliveries due since {row.oldest_due:%H:%M:%S} UTC are still waiting "
                    f"({row.backlog} not final).",
                    by_provider,
                )
            )
        if row.failed_day:
            found.append(
                Attention(
                    f"{name}: {plural(row.failed_day, 'delivery', 'deliveries')} failed for good in the last 24 hours.",
                    f"{by_provider}&status__in={DeliveryStatus.FAILED},{DeliveryStatus.DEAD}",
                )
            )
    return found


def stall_attention() -> list[Attention]:
    """Worker clusters that jammed in the last STALL_ATTENTION_HOURS, newest first (each ended
    itself and was restarted by its supervisor)."""
    since = timezone.now() - timedelta(hours=STALL_ATTENTION_HOURS)
    stalls = list(WorkerStall.objects.filter(at__gte=since)[:3])
    return [
        Attention(
            f"A worker cluster on {stall.host} stalled at {stall.at:%H:%M:%S} UTC: {stall.summary}. "
            "It ended itself so that its supervisor starts a fresh one (docs/delivery-engine.md, "
            '"A jammed cluster").'
        )
        for stall in stalls
    ]


def accept_log_attention() -> list[Attention]:
    """API requests accepted (answered 202) and not expanded into events for a while."""
    count, oldest = expansion.waiting()
    if not count or (timezone.now() - oldest).total_seconds() < ACCEPT_LOG_ATTENTION_SECONDS:
        return []
    return [
        Attention(
            f"{plural(count, 'accepted API request')} wait to become events, the oldest since "
            f"{oldest:%H:%M:%S} UTC: the worker expands them (is it running?)."
        )
    ]


def operations_context() -> dict[str, Any]:
    """Everything the operations home shows."""
    rows = provider_overview()
    worker = worker_health()
    return {
        "providers": rows,
        "worker": worker,
        "attention": attention(rows, worker),
        "failures": recent_failures(),
        "incidents": recent_incidents(),
        "updated_at": timezone.now(),
        "refresh_seconds": settings.HELIOS_HOME_REFRESH_SECONDS,
    }
