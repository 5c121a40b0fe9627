"""The console dashboard: per-provider health and an hourly volume chart drawn as SVG (no CDN)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from providers.models import CircuitState, ProviderConfig, ProviderRuntime
from providers.services import effective_mode

from .selectors import hourly_volume, provider_health

CHART_WIDTH, CHART_HEIGHT = 720, 160


@dataclass(frozen=True)
class Bar:
    """One hour of the chart: total and failed bar geometry, and its label."""

    x: float
    width: float
    total_y: float
    total_height: float
    failed_y: float
    failed_height: float
    label: str
    title: str


def chart(hours: list[dict[str, Any]]) -> list[Bar]:
    """Bars for the hourly chart, scaled to the busiest hour."""
    peak = max((h["total"] for h in hours), default=0) or 1
    slot = CHART_WIDTH / max(len(hours), 1)
    bars = []
    for index, hour in enumerate(hours):
        total_height = CHART_HEIGHT * hour["total"] / peak
        failed_height = CHART_HEIGHT * hour["failed"] / peak
        bars.append(
            Bar(
                x=round(index * slot + 1, 1),
                width=round(max(slot - 2, 1), 1),
                total_y=round(CHART_HEIGHT - total_height, 1),
                total_height=round(total_height, 1),
                failed_y=round(CHART_HEIGHT - failed_height, 1),
                failed_height=round(failed_height, 1),
                label=hour["hour"].strftime("%H:00"),
                title=f"{hour['hour']:%Y-%m-%d %H:00} UTC: {hour['total']} deliveries, {hour['failed']} failed",
            )
        )
    return bars


def dashboard_context() -> dict[str, Any]:
    """Everything the dashboard page shows, for the last 24 hours."""
    since = timezone.now() - timedelta(hours=24)
    health = provider_health(since=since)
    circuits = {r.provider_id: r for r in ProviderRuntime.objects.all()}
    rows = []
    for config in ProviderConfig.objects.order_by("kind", "name"):
        runtime = circuits.get(config.pk)
        rows.append(
            {
                "config": config,
                "mode": effective_mode(config),
                "circuit": runtime.get_circuit_state_display() if runtime else CircuitState.CLOSED.label,
                "circuit_state": runtime.circuit_state if runtime else CircuitState.CLOSED,
                "stats": health.get(config.pk, {}),
            }
        )
    hours = hourly_volume(since=since)
    return {
        "rows": rows,
        "bars": chart(hours),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
        "totals": {"sent": sum(h["total"] for h in hours), "failed": sum(h["failed"] for h in hours)},
    }
