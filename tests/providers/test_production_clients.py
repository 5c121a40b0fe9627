"""Production mode over a real wire: each real SDK against its local stand-in."""

import json
import uuid
from datetime import UTC, datetime

import grpc
import pytest

from events.models import Delivery
from events.services.sending import send_due
from providers.clients.base import ClientSettings, Outcome, OutgoingEvent
from providers.kinds import build_client
from providers.live_clients import client_settings
from providers.modes import effective_mode
from tests.conftest import EVENTGRID_TEST_KEY, PUBSUB_TOPIC
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db

ORDER = {"order_id": "o-77", "amount": 12.5, "lines": [{"sku": "A-1", "qty": 2}], "note": "é"}


def publish_and_send(config, data=ORDER, subject="orders/o-77"):
    event = publish_event(
        event_type="OrderPlaced", source="com.test", subject=subject, data=data, providers=[config], ring=False
    )
    send_due(provider_id=config.pk)
    return event, Delivery.objects.get(event=event)


def test_effective_mode_is_production_with_the_credential_source(production_providers):
    for config in production_providers.values():
        mode = effective_mode(config)
        assert mode.is_production, mode.reason
    aws = effective_mode(production_providers["aws_eventbridge"])
    assert (
        aws.reason == "production: credentials from access key from TEST_AWS_ACCESS_KEY_ID / TEST_AWS_SECRET_ACCESS_KEY"
    )


class TestEventBridge:
    def test_event_reaches_the_sqs_target_with_its_detail_intact(self, production_providers, eventbridge_target):
        event, delivery = publish_and_send(production_providers["aws_eventbridge"])
        assert (delivery.status, delivery.mode, delivery.attempts) == ("succeeded", "production", 1)
        [envelope] = eventbridge_target.received(1)
        assert envelope["id"] == delivery.provider_message_id
        assert envelope["source"] == "com.test.orders"
        assert envelope["detail-type"] == "OrderPlaced"
        assert envelope["detail"] == {
            "metadata": {"event_id": str(event.id), "source": "com.test", "subject": "orders/o-77"},
            "data": ORDER,
        }

    def test_one_bad_entry_among_ten_fails_alone(self, production_providers):
        config = production_providers["aws_eventbridge"]
        client = build_client(client_settings(config, with_credentials=True), mode="production")
        now = datetime.now(UTC)
        events = [OutgoingEvent(str(uuid.uuid4()), "OrderPlaced", "com.test", "", now, {"i": i}) for i in range(10)]
        payloads = [client.format.build(e) for e in events]
        payloads[4].body["Detail"] = "{not json"
        results = client.send_batch(events, payloads)
        assert [r.outcome for r in results].count(Outcome.SUCCEEDED) == 9
        bad = results[4]
        assert (bad.outcome, bad.error_code) == (Outcome.PERMANENT_ERROR, "MalformedDetail")
        assert "not valid JSON" in bad.error_message
        client.close()

    def test_unknown_bus_fails_permanently_in_words(self, production_providers):
        config = production_providers["aws_eventbridge"]
        config.aws_event_bus = "no-such-bus"
        config.save()
        _, delivery = publish_and_send(config)
        assert (delivery.status, delivery.last_error_code) == ("failed", "ResourceNotFoundException")
        assert "The event bus does not exist in this account and region." in delivery.last_error

    def test_unreachable_endpoint_is_retryable(self, production_providers):
        config = production_providers["aws_eventbridge"]
        config.aws_endpoint_url = "http://127.0.0.1:9"
        config.save()
        _, delivery = publish_and_send(config)
        assert delivery.status == "retrying"
        assert "Could not reach EventBridge" in delivery.last_error


class TestPubSub:
    def test_message_carries_data_and_cloudevents_attributes(self, production_providers, pubsub_standin):
        event, delivery = publish_and_send(production_providers["gcp_pubsub"])
        assert (delivery.status, delivery.mode) == ("succeeded", "production")
        [message] = pubsub_standin.messages
        assert message.topic == PUBSUB_TOPIC
        assert json.loads(message.data) == ORDER
        assert message.attributes["ce-id"] == str(event.id)
        assert message.attributes["ce-type"] == "OrderPlaced"
        assert message.attributes["ce-source"] == "com.test"
        assert message.attributes["ce-subject"] == "orders/o-77"
        assert delivery.provider_message_id == message.message_id

    def test_ordering_key_is_the_subject_when_enabled(self, production_providers, pubsub_standin):
        config = production_providers["gcp_pubsub"]
        config.gcp_ordering_by_subject = True
        config.save()
        publish_and_send(config, subject="customer/c-1")
        assert pubsub_standin.messages[0].ordering_key == "customer/c-1"

    def test_a_short_unavailable_burst_is_absorbed_by_the_bounded_sdk_retry(self, production_providers, pubsub_standin):
        pubsub_standin.fail_next.extend([grpc.StatusCode.UNAVAILABLE] * 2)
        _, delivery = publish_and_send(production_providers["gcp_pubsub"])
        assert (delivery.status, delivery.attempts) == ("succeeded", 1)
        assert pubsub_standin.publish_calls == 3

    def test_unavailable_beyond_the_bound_retries_then_recovers(self, production_providers, pubsub_standin):
        config = production_providers["gcp_pubsub"]
        pubsub_standin.fail_always = grpc.StatusCode.UNAVAILABLE
        event, delivery = publish_and_send(config)
        assert (delivery.status, delivery.last_error_code) == ("retrying", "UNAVAILABLE")
        assert "Pub/Sub was unavailable" in delivery.last_error
        pubsub_standin.fail_always = None
        Delivery.objects.update(next_attempt_at=delivery.created_at)
        send_due(provider_id=config.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("succeeded", 2)
        assert [m.attributes["ce-id"] for m in pubsub_standin.messages] == [str(event.id)]

    def test_unknown_topic_fails_permanently(self, production_providers, pubsub_standin):
        pubsub_standin.topics.clear()
        _, delivery = publish_and_send(production_providers["gcp_pubsub"])
        assert (delivery.status, delivery.last_error_code) == ("failed", "NOT_FOUND")
        assert "The topic does not exist" in delivery.last_error


class TestEventGrid:
    def test_request_has_path_api_version_key_content_type_and_cloudevent(self, production_providers, eventgrid_sink):
        event, delivery = publish_and_send(production_providers["azure_eventgrid"])
        assert (delivery.status, delivery.provider_message_id) == ("succeeded", str(event.id))
        [request] = eventgrid_sink.requests
        assert request.path == "/api/events"
        assert request.query["api-version"] == ["2018-01-01"]
        assert request.headers["aeg-sas-key"] == EVENTGRID_TEST_KEY
        assert request.headers["content-type"] == "application/cloudevents-batch+json; charset=utf-8"
        [sent] = request.json()
        assert (sent["id"], sent["type"], sent["source"], sent["specversion"]) == (
            str(event.id),
            "OrderPlaced",
            "com.test",
            "1.0",
        )
        assert sent["data"] == ORDER

    def test_event_grid_schema(self, production_providers, eventgrid_sink):
        config = production_providers["azure_eventgrid"]
        config.azure_input_schema = "eventgrid"
        config.save()
        publish_and_send(config)
        request = eventgrid_sink.requests[0]
        assert request.headers["content-type"] == "application/json; charset=utf-8"
        assert request.json()[0]["eventType"] == "OrderPlaced"

    @pytest.mark.parametrize(
        ("status", "words"),
        [
            (401, "rejected the access key or SAS token"),
            (413, "too large (over 1 MB)"),
            (403, "may not publish to this topic"),
        ],
    )
    def test_client_errors_fail_permanently_in_words(self, production_providers, eventgrid_sink, status, words):
        eventgrid_sink.responses.append((status, {}))
        _, delivery = publish_and_send(production_providers["azure_eventgrid"])
        assert (delivery.status, delivery.last_error_code) == ("failed", f"HTTP {status}")
        assert words in delivery.last_error
        assert len(eventgrid_sink.requests) == 1

    def test_503_with_retry_after_is_retried_by_helios_no_sooner_than_asked(self, production_providers, eventgrid_sink):
        config = production_providers["azure_eventgrid"]
        eventgrid_sink.responses.append((503, {"Retry-After": "30"}))
        _, delivery = publish_and_send(config)
        assert (delivery.status, delivery.last_error_code) == ("retrying", "HTTP 503")
        assert "provider asks to retry after 30 s" in delivery.last_error
        assert len(eventgrid_sink.requests) == 1  # the SDK does not sleep on Retry-After inside the worker
        attempt = delivery.attempt_log.get()
        assert (delivery.next_attempt_at - attempt.finished_at).total_seconds() >= 30
        Delivery.objects.update(next_attempt_at=delivery.created_at)
        send_due(provider_id=config.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("succeeded", 2)

    def test_connection_refused_is_retryable(self, production_providers):
        config = production_providers["azure_eventgrid"]
        config.azure_endpoint = "http://127.0.0.1:9/api/events"
        config.save()
        _, delivery = publish_and_send(config)
        assert delivery.status == "retrying"
        assert "Could not reach the Event Grid endpoint" in delivery.last_error


def test_a_production_delivery_is_never_simulated_when_production_goes_away(production_providers, settings):
    config = production_providers["gcp_pubsub"]
    event = publish_event(event_type="T", source="s", data={}, providers=[config], ring=False)
    settings.HELIOS_DEPLOYMENT_MODE = "demo"
    send_due(provider_id=config.pk)
    delivery = Delivery.objects.get(event=event)
    assert (delivery.status, delivery.mode, delivery.last_error_code) == (
        "retrying",
        "production",
        "ProductionUnavailable",
    )
    assert "never simulated" in delivery.last_error


def test_missing_credentials_keep_the_config_in_demo_and_say_which(production, make_provider, monkeypatch):
    monkeypatch.delenv("TEST_EVENTGRID_ACCESS_KEY")
    config = make_provider("az", "azure_eventgrid", mode="production", credentials_env_prefix="TEST_")
    mode = effective_mode(config)
    assert mode.mode == "demo"
    assert "set TEST_EVENTGRID_ACCESS_KEY or TEST_EVENTGRID_SAS_TOKEN" in mode.reason


def test_build_client_needs_no_model(pubsub_standin, django_assert_num_queries):
    settings = ClientSettings(
        name="plain",
        kind="gcp_pubsub",
        options={"project": "helios-test", "topic": "orders", "emulator_host": "", "ordering_by_subject": False},
        credentials={"emulator_host": pubsub_standin.host},
    )
    with django_assert_num_queries(0):  # plain values in, plain results out: no database
        client = build_client(settings, mode="production")
        event = OutgoingEvent(str(uuid.uuid4()), "T", "s", "", datetime.now(UTC), {"a": 1})
        [result] = client.publish([event])
        client.close()
    assert result.ok and result.message_id == pubsub_standin.messages[0].message_id
