"""The delivery engine: circuit breaker, rate limit, Retry-After, retry window, idempotency, retry now."""

import io
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from events.models import Delivery, Event
from events.services.operator import retry_now
from events.services.publishing import EventSpec
from events.services.sending import send_due
from providers import circuit
from providers.models import CircuitState, ProviderRuntime
from tests.publishing import publish_event, publish_specs

pytestmark = pytest.mark.django_db


def publish(configs, n=1, **kwargs):
    return [
        publish_event(
            event_type="OrderPlaced", source="com.test", data={"n": i}, providers=configs, ring=False, **kwargs
        )
        for i in range(n)
    ]


def circuit_state(config) -> str:
    return ProviderRuntime.objects.get(provider=config).circuit_state


def make_due():
    Delivery.objects.exclude(status__in=["succeeded", "failed", "dead"]).update(next_attempt_at=timezone.now())


class TestCircuitBreaker:
    def test_full_outage_opens_the_circuit_pauses_sends_probes_and_closes(
        self, production_providers, eventgrid_sink, admin_client
    ):
        config = production_providers["azure_eventgrid"]
        config.circuit_failure_threshold, config.circuit_cooldown_seconds, config.max_attempts = 3, 1, 3
        config.save()
        eventgrid_sink.fail_always = 503
        publish([config], n=4)
        send_due(provider_id=config.pk)  # one batch of 4: all fail
        assert circuit_state(config) == CircuitState.OPEN
        requests_when_opened = len(eventgrid_sink.requests)
        page = admin_client.get(reverse("admin:providers_providerconfig_changelist")).content.decode()
        assert "open until" in page and "4 failures in a row" in page
        for _ in range(3):  # while open: nothing is sent, nobody dies, whatever max_attempts says
            make_due()
            summary = send_due(provider_id=config.pk)
            assert summary.circuit_open and summary.claimed == 0
        assert len(eventgrid_sink.requests) == requests_when_opened
        assert set(Delivery.objects.values_list("status", "attempts")) == {("retrying", 1)}

        time.sleep(1.1)  # cool-down over: one probe, which fails → open again
        make_due()
        assert send_due(provider_id=config.pk).claimed == 1
        assert circuit_state(config) == CircuitState.OPEN
        assert not Delivery.objects.filter(status="dead").exists()

        eventgrid_sink.fail_always = None  # the provider is back
        time.sleep(1.1)
        make_due()
        send_due(provider_id=config.pk)  # probe succeeds → closed → the rest follow in the same task
        assert circuit_state(config) == CircuitState.CLOSED
        assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}

    def test_a_failure_ratio_opens_the_circuit(self, make_provider):
        config = make_provider("p", "gcp_pubsub", circuit_failure_threshold=50)
        circuit.runtime_of(config)
        for _ in range(10):
            circuit.record(config, succeeded=1, failed=1)
        assert circuit_state(config) == CircuitState.OPEN
        assert "10 of the last 20 sends failed" in ProviderRuntime.objects.get(provider=config).circuit_reason

    def test_successes_keep_it_closed(self, make_provider):
        config = make_provider("p", "gcp_pubsub", circuit_failure_threshold=3)
        circuit.runtime_of(config)
        for _ in range(30):
            circuit.record(config, succeeded=3, failed=1)
        assert circuit_state(config) == CircuitState.CLOSED

    def test_permanent_errors_do_not_count_against_the_provider(self, production_providers, eventgrid_sink):
        config = production_providers["azure_eventgrid"]
        config.circuit_failure_threshold = 2
        config.save()
        eventgrid_sink.fail_always = 400
        publish([config], n=5)
        send_due(provider_id=config.pk)
        assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
        assert circuit_state(config) == CircuitState.CLOSED


class TestFaultsAtTheStandIns:
    def test_a_burst_of_5xx_is_retried_until_it_passes(self, production_providers, eventgrid_sink):
        config = production_providers["azure_eventgrid"]
        eventgrid_sink.responses.extend([(500, {}), (502, {}), (503, {})])
        publish([config])
        for _ in range(4):
            make_due()
            send_due(provider_id=config.pk)
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts) == ("succeeded", 4)
        assert list(delivery.attempt_log.values_list("error_code", flat=True)) == [
            "HTTP 500",
            "HTTP 502",
            "HTTP 503",
            "",
        ]

    def test_429_with_retry_after_waits_at_least_that_long(self, production_providers, eventgrid_sink):
        config = production_providers["azure_eventgrid"]
        eventgrid_sink.responses.append((429, {"Retry-After": "120"}))
        publish([config])
        send_due(provider_id=config.pk)
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.last_error_code) == ("retrying", "HTTP 429")
        assert delivery.next_attempt_at - delivery.updated_at >= timedelta(seconds=120)

    def test_a_response_slower_than_the_client_timeout_is_a_retryable_timeout(
        self, production_providers, eventgrid_sink, settings
    ):
        settings.HELIOS_PROVIDER_TIMEOUT_SECONDS = 0.5
        config = production_providers["azure_eventgrid"]
        eventgrid_sink.delay_seconds = 2.0
        publish([config])
        started = time.monotonic()
        send_due(provider_id=config.pk)
        assert time.monotonic() - started < 6  # bounded: read timeout x (1 + 1 SDK read retry)
        delivery = Delivery.objects.get()
        assert delivery.status == "retrying"
        assert "Could not reach the Event Grid endpoint" in delivery.last_error


def test_rate_limit_spaces_sends_across_calls(make_provider):
    config = make_provider("slow", "gcp_pubsub", rate_limit_per_second=20)
    publish([config], n=30)
    started = time.monotonic()
    send_due(provider_id=config.pk)
    elapsed = time.monotonic() - started
    assert Delivery.objects.filter(status="succeeded").count() == 30
    assert elapsed >= 0.45  # 20 at once (one second's burst), then 10 more at 20/s


def test_retry_window_ends_in_dead(make_provider):
    config = make_provider("p", "gcp_pubsub", demo_failure_rate=1.0, max_age_hours=24)
    [event] = publish([config])
    Delivery.objects.update(created_at=timezone.now() - timedelta(hours=25))
    send_due(provider_id=config.pk)
    delivery = event.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("dead", 1)
    assert "Retry window of 24 h is over." in delivery.last_error


class TestIdempotency:
    def test_same_key_returns_the_first_event_and_sends_once(self, production_providers, pubsub_standin):
        config = production_providers["gcp_pubsub"]
        [first] = publish_specs([EventSpec("T", "s", {"a": 1})], [config], idempotency_key="k-1")
        [again] = publish_specs([EventSpec("T", "s", {"a": 2})], [config], idempotency_key="k-1")
        assert (again.event.pk, again.reused, first.reused) == (first.event.pk, True, False)
        first = first.event
        assert Event.objects.count() == 1 and Delivery.objects.count() == 1
        assert OrmQ.objects.count() == 1
        send_due(provider_id=config.pk)
        assert [m.attributes["ce-id"] for m in pubsub_standin.messages] == [str(first.pk)]

    def test_the_cli_reports_a_reused_event(self, demo_providers):
        out = io.StringIO()
        call_command("publish", "--provider", "gcp", "--sync", "--idempotency-key", "order-9", stdout=out)
        call_command("publish", "--provider", "gcp", "--sync", "--idempotency-key", "order-9", stdout=out)
        assert Event.objects.count() == 1
        assert "already published with idempotency key order-9: nothing sent again" in out.getvalue()


class TestRetryNow:
    def test_a_dead_delivery_gets_one_more_attempt(self, make_provider):
        config = make_provider("p", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=1)
        [event] = publish([config])
        send_due(provider_id=config.pk)
        assert event.deliveries.get().status == "dead"
        config.demo_failure_rate = 0
        config.save()
        assert retry_now(deliveries=Delivery.objects.all()) == 1
        assert OrmQ.objects.count() == 1  # the doorbell rang
        send_due(provider_id=config.pk)
        delivery = event.deliveries.get()
        assert (delivery.status, delivery.attempts) == ("succeeded", 2)

    def test_succeeded_deliveries_are_left_alone(self, make_provider):
        config = make_provider("p", "gcp_pubsub")
        publish([config])
        send_due(provider_id=config.pk)
        assert retry_now(deliveries=Delivery.objects.all()) == 0
        assert Delivery.objects.get().attempts == 1

    def test_admin_action_and_cli(self, admin_client, make_provider):
        config = make_provider("p", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=1)
        publish([config], n=2)
        send_due(provider_id=config.pk)
        first = Delivery.objects.order_by("pk").first()
        response = admin_client.post(
            reverse("admin:events_delivery_changelist"),
            {"action": "retry_selected", "_selected_action": [first.pk]},
            follow=True,
        )
        assert "1 delivery will be retried now." in response.content.decode()
        out = io.StringIO()
        call_command("retry", "--provider", "p", stdout=out)
        assert "1 delivery will be retried now." in out.getvalue()
        assert set(Delivery.objects.values_list("status", flat=True)) == {"retrying"}

    def test_a_retry_held_by_an_open_circuit_says_until_when(self, admin_client, make_provider):
        config = make_provider("p", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=1, circuit_failure_threshold=1)
        publish([config])
        send_due(provider_id=config.pk)
        assert circuit_state(config) == "open"
        response = admin_client.post(
            reverse("admin:events_delivery_changelist"),
            {"action": "retry_selected", "_selected_action": list(Delivery.objects.values_list("pk", flat=True))},
            follow=True,
        )
        page = response.content.decode()
        assert "1 delivery will be retried now." in page
        assert "p: The circuit is open since" in page and "when the next probe sends one delivery." in page
        out = io.StringIO()
        call_command("retry", "--provider", "p", "--status", "retrying", stdout=out)
        assert "p: The circuit is open since" in out.getvalue()
