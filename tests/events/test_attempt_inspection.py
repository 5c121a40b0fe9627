"""Attempt inspection: each attempt keeps what was sent and what the provider answered, through
the real SDKs, capped and with secrets redacted, and the delivery page shows both."""

import json
import re

import pytest
from django.urls import reverse

from events.models import DeliveryAttempt
from events.services.sending import send_due
from tests.conftest import AWS_TEST_SECRET, EVENTGRID_TEST_KEY
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db
DATA = {"order_id": "o-5", "password": "hunter2-very-secret", "note": f"key {EVENTGRID_TEST_KEY}"}


def send(config, data=DATA):
    event = publish_event(event_type="OrderPlaced", source="com.test", data=data, providers=[config], ring=False)
    send_due(provider_id=config.pk)
    return event, DeliveryAttempt.objects.get(delivery__event=event)


def test_eventbridge_keeps_the_entry_and_its_result(production_providers):
    event, attempt = send(production_providers["aws_eventbridge"])
    sent = json.loads(attempt.request_body)
    assert (sent["Source"], sent["DetailType"]) == ("com.test.orders", "OrderPlaced")
    detail = json.loads(sent["Detail"])
    assert detail["metadata"]["event_id"] == str(event.id) and detail["data"]["order_id"] == "o-5"
    answer = json.loads(attempt.response_body)
    assert (answer["HTTPStatusCode"], answer["EventId"]) == (200, attempt.provider_message_id)


def test_secrets_inside_eventbridges_detail_string_are_redacted(production_providers):
    _, attempt = send(production_providers["aws_eventbridge"])
    detail = json.loads(json.loads(attempt.request_body)["Detail"])
    assert detail["data"]["password"] == "[redacted]" and detail["data"]["order_id"] == "o-5"
    assert "hunter2-very-secret" not in attempt.request_body and EVENTGRID_TEST_KEY not in attempt.request_body


def test_pubsub_keeps_data_attributes_and_the_message_id(production_providers):
    event, attempt = send(production_providers["gcp_pubsub"])
    sent = json.loads(attempt.request_body)
    assert sent["attributes"]["ce-id"] == str(event.id)
    assert json.loads(attempt.response_body) == {"messageId": attempt.provider_message_id}


def test_event_grid_keeps_the_refusal_body(production_providers, eventgrid_sink):
    eventgrid_sink.responses.append((401, {}, b'{"error": {"code": "Unauthorized", "message": "bad key"}}'))
    _, attempt = send(production_providers["azure_eventgrid"])
    assert attempt.outcome == "permanent_error"
    assert json.loads(attempt.request_body)["data"]["order_id"] == "o-5"
    assert "Unauthorized" in attempt.response_body and "bad key" in attempt.response_body


def test_secrets_are_redacted_and_bodies_capped(production_providers):
    _, attempt = send(production_providers["azure_eventgrid"])
    stored = attempt.request_body + attempt.response_body
    assert "hunter2-very-secret" not in stored and EVENTGRID_TEST_KEY not in stored and AWS_TEST_SECRET not in stored
    assert '"password": "[redacted]"' in attempt.request_body
    _, big = send(production_providers["azure_eventgrid"], data={**DATA, "pad": "x" * 40_000})
    assert "hunter2-very-secret" not in big.request_body  # wherever the database puts the keys (jsonb sorts them)
    assert len(big.request_body) <= 16 * 1024 + 20 and big.request_body.endswith("…[truncated]")


def test_demo_says_it_simulated_and_the_page_shows_both(admin_client, demo_providers):
    gcp = next(c for c in demo_providers if c.name == "gcp-demo")
    _, attempt = send(gcp, data={"order_id": "o-6"})
    assert json.loads(attempt.response_body) == {"simulated": True, "messageId": attempt.provider_message_id}
    page = admin_client.get(reverse("admin:events_delivery_change", args=[attempt.delivery_id])).content.decode()
    request = re.search(r'<pre data-field="request">(.*?)</pre>', page, re.S).group(1)
    response = re.search(r'<pre data-field="response">(.*?)</pre>', page, re.S).group(1)
    assert "o-6" in request and "&quot;ce-type&quot;: &quot;OrderPlaced&quot;" in request  # indented for reading
    assert f"&quot;messageId&quot;: &quot;{attempt.provider_message_id}&quot;" in response
