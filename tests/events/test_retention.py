"""Retention: old history goes in small batches; anything still being delivered stays."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import Delivery, DeliveryAttempt, Event, HourlyStats, Receipt, ReconciliationReport
from events.services.receipts import record_arrivals
from events.services.reconcile import reconcile
from events.services.retention import RetentionPolicy, purge
from events.services.sending import send_due
from providers.inbound.parsing import InboundEvent
from providers.models import CircuitTransition
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


def age(queryset, field: str, days: int) -> None:
    queryset.update(**{field: timezone.now() - timedelta(days=days)})


def test_old_history_is_purged_in_batches_and_open_deliveries_stay(make_provider):
    ok = make_provider("ok", "gcp_pubsub")
    flaky = make_provider("flaky", "aws_eventbridge", demo_failure_rate=1.0, circuit_failure_threshold=1000)
    old = [publish_event(event_type="T", source="s", data={"n": n}, providers=[ok], ring=False) for n in range(5)]
    still_retrying = publish_event(event_type="T", source="s", data={}, providers=[ok, flaky], ring=False)
    recent = publish_event(event_type="T", source="s", data={}, providers=[ok], ring=False)
    send_due(provider_id=ok.pk)
    send_due(provider_id=flaky.pk)
    record_arrivals(provider=ok, via="test", operation="push", events=[InboundEvent(event_id=str(old[0].id))])
    reconcile(provider=ok, since=timezone.now() - timedelta(hours=1))
    age(Event.objects.exclude(pk=recent.pk), "created_at", 100)
    age(DeliveryAttempt.objects.exclude(delivery__event=recent), "finished_at", 100)
    age(Receipt.objects.all(), "first_received_at", 40)
    age(ReconciliationReport.objects.all(), "created_at", 100)
    age(HourlyStats.objects.all(), "hour", 500)
    CircuitTransition.objects.create(
        provider=flaky, from_state="closed", to_state="open", at=timezone.now() - timedelta(days=100)
    )
    CircuitTransition.objects.create(provider=flaky, from_state="open", to_state="half_open")

    with CaptureQueriesContext(connection) as queries:
        report = purge(RetentionPolicy.from_settings(batch_size=2))

    assert report.removed == {
        "attempts": 6,  # 5 old events' and the succeeded half of still_retrying; its retrying half stays
        "events": 5,
        "receipts": 1,
        "reconciliation reports": 1,
        "circuit incidents": 1,
        "hourly stats": 2,
    }
    assert report.batches == 3 + 3 + 1 + 1 + 1 + 1
    assert CircuitTransition.objects.get().to_state == "half_open"
    assert set(Event.objects.values_list("pk", flat=True)) == {still_retrying.pk, recent.pk}
    assert Delivery.objects.filter(event=still_retrying, status="retrying").exists()
    assert DeliveryAttempt.objects.filter(delivery__event=recent).count() == 1
    event_deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('DELETE FROM "events_event"')]
    assert len(event_deletes) == 3  # 5 events in batches of at most 2, never one statement over the table


def test_zero_days_keeps_forever_and_the_command_reports(make_provider):
    ok = make_provider("ok", "gcp_pubsub")
    publish_event(event_type="T", source="s", data={}, providers=[ok], ring=False)
    send_due(provider_id=ok.pk)
    age(Event.objects.all(), "created_at", 1000)
    assert purge(RetentionPolicy.from_settings(event_days=0, attempt_days=0, stats_days=0)).removed["receipts"] == 0
    assert Event.objects.count() == 1
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert out.getvalue().startswith("Removed 0 attempts, 1 events, 0 receipts")
    assert Event.objects.count() == 0
