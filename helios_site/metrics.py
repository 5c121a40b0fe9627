"""`/metrics` in Prometheus text format, computed from the database at scrape time.

Why from the database: every web and worker process (on every host) writes its outcomes there,
so one scrape of any web process sees the whole deployment, exactly, with no per-process state
to aggregate (prometheus_client's multiprocess mode needs a shared directory per host and loses
counters when processes restart). The cost is a few grouped queries per scrape, index-backed
except the two totals (deliveries and attempts by label), which read the tables once.

Protection: with HELIOS_METRICS_TOKEN set, only `Authorization: Bearer <token>`; otherwise only
requests from HELIOS_METRICS_ALLOWED_IPS (default loopback), by the client's address behind the
trusted proxies (a reverse proxy on loopback does not make every visitor local).
"""

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core.client_address import client_address
from core.models import Heartbeat, WorkerStall
from events import stats
from events.models import DUE_STATUSES, Delivery, DeliveryAttempt, HourlyStats
from gateway import expansion
from gateway.models import AuthFailures
from providers.models import CircuitState, ProviderConfig, ProviderRuntime


class HeliosCollector:
    """Reads the deployment's state from the database on each scrape."""

    def collect(self) -> Iterator[Metric]:
        configs = {c.pk: c for c in ProviderConfig.objects.all()}
        yield self._deliveries(configs)
        yield self._attempts(configs)
        yield self._latency(configs)
        yield from self._backlog(configs)
        yield self._circuits(configs)
        yield self._heartbeat()
        yield self._stalls()
        yield from self._api_auth_failures()
        yield from self._accept_log()

    @staticmethod
    def _deliveries(configs: dict) -> Metric:
        family = GaugeMetricFamily(
            "helios_deliveries",
            "Deliveries by provider config, kind, mode and status (current state).",
            labels=["provider", "kind", "mode", "status"],
        )
        rows = Delivery.objects.values_list("provider_id", "mode", "status").annotate(n=Count("id")).order_by()
        for provider_id, mode, status, count in rows:
            config = configs[provider_id]
            family.add_metric([config.name, config.kind, mode, status], count)
        return family

    @staticmethod
    def _attempts(configs: dict) -> Metric:
        family = CounterMetricFamily(
            "helios_delivery_attempts",
            "Delivery attempts by provider config and outcome (kept attempts; retention trims old ones).",
            labels=["provider", "outcome"],
        )
        rows = DeliveryAttempt.objects.values_list("delivery__provider_id", "outcome").annotate(n=Count("id"))
        for provider_id, outcome, count in rows.order_by():
            family.add_metric([configs[provider_id].name, outcome], count)
        return family

    @staticmethod
    def _latency(configs: dict) -> Metric:
        family = HistogramMetricFamily(
            "helios_publish_latency_seconds",
            "Provider call time of successful deliveries (from the hourly rollup).",
            labels=["provider"],
        )
        totals: dict[int, tuple[list[int], int]] = {}
        for provider_id, buckets, latency_sum in HourlyStats.objects.values_list(
            "provider_id", "latency_buckets", "latency_sum_ms"
        ):
            counts, total = totals.get(provider_id, ([0] * stats.BUCKETS, 0))
            for index, count in enumerate(buckets):
                counts[index] += count
            totals[provider_id] = (counts, total + latency_sum)
        for provider_id, (counts, latency_sum) in sorted(totals.items()):
            cumulative, running = [], 0
            for bound, count in zip([*stats.LATENCY_BOUNDS_MS, None], counts, strict=True):
                running += count
                cumulative.append(("+Inf" if bound is None else str(bound / 1000), running))
            family.add_metric([configs[provider_id].name], cumulative, latency_sum / 1000)
        return family

    @staticmethod
    def _backlog(configs: dict) -> Iterator[Metric]:
        backlog = GaugeMetricFamily(
            "helios_backlog", "Deliveries waiting to be sent (pending or retrying).", labels=["provider", "status"]
        )
        oldest = GaugeMetricFamily(
            "helios_oldest_pending_age_seconds",
            "Age of the oldest delivery waiting to be sent (pending or retrying).",
            labels=["provider"],
        )
        now = timezone.now()
        waiting = Delivery.objects.filter(status__in=DUE_STATUSES)
        counts = waiting.values_list("provider_id", "status").annotate(n=Count("id")).order_by()
        found = {(provider_id, status): n for provider_id, status, n in counts}
        for provider_id, config in sorted(configs.items()):
            for status in DUE_STATUSES:
                backlog.add_metric([config.name, status], found.get((provider_id, status), 0))
        firsts = waiting.values_list("provider_id").annotate(first=Min("created_at")).order_by()
        first_by_provider = dict(firsts)
        for provider_id, config in sorted(configs.items()):
            first = first_by_provider.get(provider_id)
            oldest.add_metric([config.name], (now - first).total_seconds() if first else 0)
        yield backlog
        yield oldest

    @staticmethod
    def _circuits(configs: dict) -> Metric:
        family = GaugeMetricFamily(
            "helios_circuit_state", "1 for the provider config's current circuit state.", labels=["provider", "state"]
        )
        states = dict(ProviderRuntime.objects.values_list("provider_id", "circuit_state"))
        for provider_id, config in sorted(configs.items()):
            current = states.get(provider_id, CircuitState.CLOSED)
            for state in CircuitState.values:
                family.add_metric([config.name, state], 1 if state == current else 0)
        return family

    @staticmethod
    def _heartbeat() -> Metric:
        family = GaugeMetricFamily("helios_worker_heartbeat_age_seconds", "Seconds since a worker last beat.")
        last = Heartbeat.objects.filter(name="worker").values_list("at", flat=True).first()
        family.add_metric([], (timezone.now() - last).total_seconds() if last else float("inf"))
        return family

    @staticmethod
    def _stalls() -> Metric:
        family = CounterMetricFamily(
            "helios_worker_stalls", "Worker clusters that jammed and ended themselves (manage.py worker)."
        )
        family.add_metric([], WorkerStall.objects.count())
        return family

    @staticmethod
    def _api_auth_failures() -> Iterator[Metric]:
        failures = CounterMetricFamily(
            "helios_api_auth_failures", "Wrong API keys presented, by what they are counted against.", labels=["by"]
        )
        blocked = GaugeMetricFamily(
            "helios_api_auth_blocked",
            "Client addresses and key prefixes answered 429 for wrong keys now.",
            labels=["by"],
        )
        now = timezone.now()
        totals = {"address": 0, "prefix": 0}
        blocked_now = {"address": 0, "prefix": 0}
        for scope, total, until in AuthFailures.objects.values_list("scope", "total", "blocked_until"):
            by = scope.partition(":")[0]
            totals[by] = totals.get(by, 0) + total
            blocked_now[by] = blocked_now.get(by, 0) + (until is not None and until > now)
        for by in sorted(totals):
            failures.add_metric([by], totals[by])
            blocked.add_metric([by], blocked_now[by])
        yield failures
        yield blocked

    @staticmethod
    def _accept_log() -> Iterator[Metric]:
        count, oldest = expansion.waiting()
        waiting = GaugeMetricFamily(
            "helios_api_accepted_waiting", "Accepted API requests not yet expanded into events."
        )
        waiting.add_metric([], count)
        age = GaugeMetricFamily(
            "helios_api_accepted_oldest_age_seconds", "Seconds the oldest accepted API request has waited (0: none)."
        )
        age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield waiting
        yield age


def allowed(request: HttpRequest) -> bool:
    """The scraper presents the token, or (without a token configured) comes from an allowed address."""
    token = settings.HELIOS_METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())
    return client_address(request) in settings.HELIOS_METRICS_ALLOWED_IPS


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition of HeliosCollector (404 to anyone not allowed)."""
    if not allowed(request):
        return HttpResponse("Not found", status=404, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HeliosCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
