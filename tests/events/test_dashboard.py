"""The dashboard: per-provider figures for the last 24 h (from the hourly rollup) and an hourly SVG chart."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from events import stats
from events.models import DeliveryAttempt, HourlyStats
from events.services.operator import retry_now
from events.services.sending import send_due
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db
URL = "admin:events_dashboard"


def cell(page: str, provider: str, field: str) -> str:
    """A figure's text (links and notes stripped)."""
    row = re.search(rf'<tr data-provider="{provider}">(.*?)</tr>', page, re.S).group(1)
    html = re.search(rf'data-field="{field}"[^>]*>(.*?)</td>', row, re.S).group(1)
    return re.sub(r"<[^>]+>", "", html.split('<div class="helios-note">')[0]).strip()


def snapshot() -> dict:
    return {
        (row.provider_id, row.hour): (
            row.created,
            row.succeeded,
            row.failed,
            row.latency_buckets,
            row.latency_sum_ms,
            row.attempts,
            row.attempts_failed,
        )
        for row in HourlyStats.objects.all()
    }


def test_figures_per_provider_and_chart(admin_client, make_provider):
    ok = make_provider("ok", "gcp_pubsub")
    bad = make_provider("bad", "azure_eventgrid", demo_failure_rate=1.0, max_attempts=1)
    for _ in range(4):
        publish_event(event_type="T", source="s", data={}, providers=[ok, bad], ring=False)
    send_due(provider_id=ok.pk)
    send_due(provider_id=bad.pk)
    publish_event(event_type="T", source="s", data={}, providers=[ok], ring=False)  # still open
    stats.add(provider_id=ok.pk, at=timezone.now() - timedelta(hours=30), created=7)  # outside 24 h
    stats.add(provider_id=ok.pk, at=timezone.now(), latencies_ms=[40] * 5 + [400] * 5)

    page = admin_client.get(reverse(URL)).content.decode()
    assert (cell(page, "ok", "sent"), cell(page, "ok", "succeeded"), cell(page, "ok", "open")) == ("5", "4", "1")
    assert cell(page, "ok", "success_rate") == "100.0 %"
    # 14 latencies: 4 near 0 ms (demo), 5 at 40 ms, 5 at 400 ms. p50: rank 7 is 3 of 5 into (25, 50] → 40;
    # p95: rank 13.3 is 4.3 of 5 into (250, 500] → 465.
    assert cell(page, "ok", "p50") == "≈ 40 ms"
    assert cell(page, "ok", "p95") == "≈ 465 ms"
    assert (cell(page, "bad", "failed"), cell(page, "bad", "success_rate"), cell(page, "bad", "p50")) == (
        "4",
        "0.0 %",
        "—",
    )
    assert "Deliveries per hour (9 in 24 h, 4 failed)" in page
    assert page.count('class="helios-bar-total"') >= 24
    assert re.search(r"<title>[^<]*: 9 deliveries, 4 failed</title>", page)


def test_percentiles_interpolate_within_the_histogram_bucket():
    buckets = [0] * stats.BUCKETS
    buckets[stats.bucket_of(10)] = 10  # ten successes in (5, 10] ms
    assert stats.percentile(buckets, 0.5) == 8
    assert stats.percentile(buckets, 1.0) == 10
    buckets[-1] = 90  # ninety slower than the last bound
    assert stats.percentile(buckets, 0.95) == stats.LATENCY_BOUNDS_MS[-1]
    assert stats.percentile([0] * stats.BUCKETS, 0.5) is None
    assert (stats.bucket_of(5), stats.bucket_of(6), stats.bucket_of(10**6)) == (0, 1, stats.BUCKETS - 1)


def test_the_rollup_kept_by_the_services_equals_a_rebuild_from_the_history(make_provider):
    ok = make_provider("ok", "gcp_pubsub")
    flaky = make_provider(
        "flaky", "aws_eventbridge", demo_failure_rate=1.0, max_attempts=2, circuit_failure_threshold=100
    )
    for _ in range(6):
        publish_event(event_type="T", source="s", data={}, providers=[ok, flaky], ring=False)
    send_due(provider_id=ok.pk)
    send_due(provider_id=flaky.pk)  # first attempts fail: retrying, not counted as failed
    from events.models import Delivery

    retry_now(deliveries=Delivery.objects.filter(provider=flaky))
    send_due(provider_id=flaky.pk)  # second attempts fail: dead
    kept = snapshot()
    assert sum(v[0] for v in kept.values()) == 12
    assert sum(v[2] for v in kept.values()) == 6
    # Every attempt counted, failures apart (a jittered backoff of ~0 s can add an attempt: count them).
    attempts = DeliveryAttempt.objects.all()
    assert sum(v[5] for v in kept.values()) == attempts.count() >= 18
    assert sum(v[6] for v in kept.values()) == attempts.exclude(outcome="succeeded").count() >= 12
    assert stats.rebuild_hourly_stats() == len(kept)
    assert snapshot() == kept


@pytest.mark.parametrize("second_try_fails", [True, False])
def test_a_dead_delivery_retried_by_an_operator_is_counted_once(make_provider, second_try_fails):
    """Dead, retried now, then dead again (or succeeded): one delivery, counted once, as a rebuild
    counts it. Before, it was counted failed twice (the flaky 7 == 6 under load)."""
    from events.models import Delivery

    config = make_provider("flaky", "aws_eventbridge", demo_failure_rate=1.0, max_attempts=1)
    publish_event(event_type="T", source="s", data={}, providers=[config], ring=False)
    send_due(provider_id=config.pk)
    assert Delivery.objects.get().status == "dead"
    if not second_try_fails:
        config.demo_failure_rate = 0.0
        config.save()
    retry_now(deliveries=Delivery.objects.all())
    send_due(provider_id=config.pk)
    assert Delivery.objects.get().status == ("dead" if second_try_fails else "succeeded")
    kept = snapshot()
    assert sum(v[2] for v in kept.values()) == (1 if second_try_fails else 0)
    assert sum(v[1] for v in kept.values()) == (0 if second_try_fails else 1)
    stats.rebuild_hourly_stats()
    rebuilt = snapshot()
    assert {k: v[:3] for k, v in rebuilt.items()} == {k: v[:3] for k, v in kept.items()}


def test_an_event_sent_again_by_reconciliation_is_counted_once(make_provider, make_receiver):
    from datetime import timedelta as delta

    from events.models import Delivery
    from events.services.reconcile import reconcile, retry_missing

    config = make_provider("grid", "azure_eventgrid")
    make_receiver(config)
    publish_event(event_type="T", source="s", data={}, providers=[config], ring=False)
    send_due(provider_id=config.pk)
    Delivery.objects.update(completed_at=timezone.now() - delta(minutes=30))  # past the grace period
    stats.rebuild_hourly_stats()  # the rollup as the services would have kept it at that time
    report = reconcile(provider=config, since=timezone.now() - delta(hours=2))
    assert retry_missing(report=report) == 1
    send_due(provider_id=config.pk)
    assert Delivery.objects.get().attempts == 2
    kept = {hour: figures for hour, figures in snapshot().items() if any(figures[:3]) or any(figures[3])}
    assert sum(v[1] for v in kept.values()) == 1  # one delivery, one success
    stats.rebuild_hourly_stats()
    assert snapshot() == kept  # (the hour it first succeeded in is all zeros now; a rebuild omits it)


def test_dashboard_needs_view_permission(client, demo_providers):
    client.force_login(User.objects.create_user("nobody", password="a-long-password-1", is_staff=True))
    assert client.get(reverse(URL)).status_code == 403


def test_attempt_rates_links_axis_and_incidents_tell_the_whole_story(admin_client, make_provider):
    """A provider whose deliveries all succeed on a retry: 100 % final success, 50 % failed attempts,
    an incident on the timeline, and every figure a link that lists what it counts."""
    from events.models import Delivery

    flaky = make_provider("flaky", "gcp_pubsub", demo_failure_rate=1.0, circuit_failure_threshold=3)
    for _ in range(4):
        publish_event(event_type="T", source="s", data={}, providers=[flaky], ring=False)
    send_due(provider_id=flaky.pk)  # four failed attempts: the circuit opens
    flaky.demo_failure_rate = 0.0
    flaky.save()
    from providers.models import ProviderRuntime

    ProviderRuntime.objects.filter(provider=flaky).update(circuit_changed_at=timezone.now() - timedelta(minutes=5))
    retry_now(deliveries=Delivery.objects.all())
    send_due(provider_id=flaky.pk)  # the probe succeeds, the circuit closes, the rest follow
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}

    page = admin_client.get(reverse(URL)).content.decode()
    assert (cell(page, "flaky", "success_rate"), cell(page, "flaky", "attempt_failure_rate")) == ("100.0 %", "50.0 %")
    assert cell(page, "flaky", "attempts") == "8"
    assert "flaky circuit opened (4 failures in a row)" in page
    assert "flaky circuit closed again (the probe succeeded)" in page
    assert re.search(r'<text [^>]*text-anchor="end"[^>]*>4</text>', page)  # the y-axis top: 4 deliveries
    row = re.search(r'<tr data-provider="flaky">(.*?)</tr>', page, re.S).group(1)
    for field, expected in (("sent", 4), ("succeeded", 4), ("failed", 0), ("open", 0)):
        link = re.search(rf'data-field="{field}"><a href="([^"]+)"', row).group(1).replace("&amp;", "&")
        listed = admin_client.get(link).content.decode()
        assert listed.count('class="field-status_badge"') == expected, field
    [bar] = re.findall(r'<a href="([^"]+)"><g><title>[^<]*: 4 deliveries', page)  # the hour they were sent in
    bar = bar.replace("&amp;", "&")
    assert admin_client.get(bar).content.decode().count('class="field-status_badge"') == 4
