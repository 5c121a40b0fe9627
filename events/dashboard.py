"""The console dashboard: per-provider figures for the last 24 hours and an hourly chart drawn as
SVG (no CDN) with a y-axis, a link per bar to that hour's deliveries, and the circuit incidents."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from providers.circuit import CircuitStatus, circuit_status
from providers.models import CircuitState, CircuitTransition, ProviderConfig
from providers.modes import effective_mode
from providers.simulation import simulation_words

from . import stats
from .models import ReconciliationReport, Resend
from .selectors import hourly_volume, provider_health

CHART_WIDTH, CHART_HEIGHT = 720, 160
#: Room left of the bars for the y-axis labels.
AXIS_WIDTH = 44


@dataclass(frozen=True)
class Bar:
    """One hour of the chart: total and failed bar geometry, its label, tooltip and history link."""

    x: float
    width: float
    total_y: float
    total_height: float
    failed_y: float
    failed_height: float
    label: str
    title: str
    url: str


@dataclass(frozen=True)
class Tick:
    """A y-axis gridline and its label."""

    y: float
    label: str


@dataclass(frozen=True)
class Marker:
    """A circuit incident on the timeline."""

    x: float
    opened: bool
    title: str


def deliveries_url(**filters: Any) -> str:
    """The delivery history filtered as given."""
    return f"{reverse('admin:events_delivery_changelist')}?{urlencode(filters)}"


def chart(hours: list[dict[str, Any]]) -> list[Bar]:
    """Bars for the hourly chart, scaled to the busiest hour."""
    peak = axis_peak(hours)
    slot = CHART_WIDTH / max(len(hours), 1)
    bars = []
    for index, hour in enumerate(hours):
        total_height = CHART_HEIGHT * hour["total"] / peak
        failed_height = CHART_HEIGHT * hour["failed"] / peak
        start = hour["hour"]
        bars.append(
            Bar(
                x=round(AXIS_WIDTH + index * slot + 1, 1),
                width=round(max(slot - 2, 1), 1),
                total_y=round(CHART_HEIGHT - total_height, 1),
                total_height=round(total_height, 1),
                failed_y=round(CHART_HEIGHT - failed_height, 1),
                failed_height=round(failed_height, 1),
                label=start.strftime("%H:00"),
                title=f"{start:%Y-%m-%d %H:00} UTC: {hour['total']} deliveries, {hour['failed']} failed",
                url=deliveries_url(
                    created_at__gte=start.isoformat(), created_at__lt=(start + timedelta(hours=1)).isoformat()
                ),
            )
        )
    return bars


def axis_peak(hours: list[dict[str, Any]]) -> int:
    """The y-axis top: the busiest hour rounded up to a number that splits into 4 whole ticks."""
    busiest = max((h["total"] for h in hours), default=0)
    return max(4, -(-busiest // 4) * 4)


def ticks(hours: list[dict[str, Any]]) -> list[Tick]:
    """Five y-axis gridlines, 0 to the top."""
    peak = axis_peak(hours)
    return [
        Tick(y=round(CHART_HEIGHT - CHART_HEIGHT * step / 4, 1), label=f"{peak * step // 4:,}") for step in range(5)
    ]


def markers(since: datetime, hours: list[dict[str, Any]]) -> list[Marker]:
    """Circuits that opened (from closed) or closed again, placed on the timeline."""
    if not hours:
        return []
    start, slot = hours[0]["hour"], CHART_WIDTH / len(hours)
    found = CircuitTransition.objects.filter(at__gte=since).select_related("provider").order_by("at")
    placed = []
    for change in found:
        opened = change.from_state == CircuitState.CLOSED and change.to_state == CircuitState.OPEN
        if not opened and change.to_state != CircuitState.CLOSED:
            continue  # probes: the circuit was open all along
        x = AXIS_WIDTH + (change.at - start).total_seconds() / 3600 * slot
        verb = "opened" if opened else "closed again"
        title = f"{change.at:%Y-%m-%d %H:%M:%S} UTC: {change.provider.name} circuit {verb} ({change.reason})"
        placed.append(Marker(x=round(x, 1), opened=opened, title=title))
    return placed


#: Attempts failing at least this share (%) over 24 h make a config's row lead with it.
FAILING_ATTEMPTS_PERCENT = 10


def what_is_wrong(circuit: CircuitStatus, figures: dict[str, Any], simulated_failures: str) -> list[str]:
    """What an operator must see first about a config, before any success rate: its circuit when
    not closed, attempts failing, and a demo set to fail on purpose."""
    wrong = []
    if not circuit.is_closed:
        wrong.append(f"circuit {circuit.short()}")
    rate = figures.get("attempt_failure_rate")
    if rate is not None and rate >= FAILING_ATTEMPTS_PERCENT:
        failed, tried = figures.get("attempts_failed", 0), figures.get("attempts", 0)
        wrong.append(f"{rate} % of attempts failed in 24 h ({failed} of {tried})")
    if simulated_failures:
        wrong.append(simulated_failures)
    return wrong


def dashboard_context() -> dict[str, Any]:
    """Everything the dashboard page shows, for the last 24 hours."""
    since = timezone.now() - timedelta(hours=24)
    health = provider_health(since=since)
    window = stats.hour_of(since).isoformat()  # the rollup counts whole hours
    rows = []
    for config in ProviderConfig.objects.order_by("kind", "name"):
        by_provider = {"provider__id__exact": config.pk}
        mode, circuit, figures = effective_mode(config), circuit_status(config), health.get(config.pk, {})
        simulated = "" if mode.is_production else simulation_words(config)
        rows.append(
            {
                "config": config,
                "mode": mode,
                "circuit": circuit,
                "simulation": simulated,
                "wrong": what_is_wrong(circuit, figures, simulated if config.demo_failure_rate else ""),
                "stats": figures,
                "urls": {
                    "sent": deliveries_url(**by_provider, created_at__gte=window),
                    "succeeded": deliveries_url(**by_provider, statuses="succeeded", completed_at__gte=window),
                    "failed": deliveries_url(**by_provider, statuses="failed,dead", completed_at__gte=window),
                    "open": deliveries_url(**by_provider, statuses="pending,sending,retrying"),
                },
            }
        )
    hours = hourly_volume(since=since)
    return {
        "rows": rows,
        "wrong": [row for row in rows if row["wrong"]],
        "round_trip": round_trip_rows(since),
        "bars": chart(hours),
        "ticks": ticks(hours),
        "markers": markers(since, hours),
        "axis_width": AXIS_WIDTH,
        "chart_width": CHART_WIDTH + AXIS_WIDTH,
        "chart_height": CHART_HEIGHT,
        "totals": {"sent": sum(h["total"] for h in hours), "failed": sum(h["failed"] for h in hours)},
    }


def round_trip_rows(since: datetime) -> list[dict[str, Any]]:
    """Per config with a round trip: its latest reconciliation's findings (duplicates and
    out-of-order arrivals cannot be unsent: they are counted), and its healing resends in 24 h."""
    latest: dict[int, ReconciliationReport] = {}
    for report in ReconciliationReport.objects.filter(created_at__gte=since).select_related("provider"):
        if report.provider_id not in latest or report.created_at > latest[report.provider_id].created_at:
            latest[report.provider_id] = report
    healed = dict(
        Resend.objects.filter(item__isnull=False, at__gte=since)
        .values("delivery__provider_id")
        .annotate(n=Count("id"))
        .values_list("delivery__provider_id", "n")
    )
    return [
        {"report": report, "healed": healed.get(provider_id, 0)}
        for provider_id, report in sorted(latest.items(), key=lambda item: item[1].provider.name)
    ]
