"""Inbound conformance: for every registered kind, what its cloud pushes back (each schema and
delivery mode it has) reaches the kind's receiver and confirms the delivery HELIOS sent.

Each echo turns the payload HELIOS published into the request the cloud makes, per the cloud's
documentation (EventBridge API destination; Pub/Sub push; Event Grid webhook in the Event Grid
schema, and CloudEvents batched, structured and binary). A kind added to the registry must add
its echoes here (test_every_kind_has_echoes).
"""

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from events.models import Delivery, Receipt
from events.services.publishing import outgoing_event
from events.services.sending import send_due
from providers.clients.base import Payload
from providers.kinds import KINDS, payload_format, spec_for
from providers.live_clients import client_settings
from tests.conftest import RECEIVER_TOKEN
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db

#: The request a cloud makes: body, content type, extra headers.
Request = tuple[bytes, str, dict[str, str]]


def eventbridge_api_destination(payload: Payload) -> Request:
    """An API destination POSTs the EventBridge event (the rule's target input is the whole event)."""
    entry = payload.body
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": "123456789012",
        "time": entry["Time"].isoformat(),
        "region": "eu-west-1",
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    return json.dumps(event).encode(), "application/json", {}


def pubsub_push(payload: Payload) -> Request:
    """A push subscription wraps the message (data base64) with its attributes and ids."""
    message = {
        "data": base64.b64encode(payload.body["data"]).decode(),
        "attributes": payload.body["attributes"],
        "messageId": "2070443601311540",
        "publishTime": "2026-11-27T10:00:00.123Z",
    }
    body = {"message": message, "subscription": "projects/helios-test/subscriptions/helios-roundtrip"}
    return json.dumps(body).encode(), "application/json", {}


def eventgrid_array(payload: Payload) -> Request:
    """Event Grid schema: a JSON array of events, as the topic received them plus topic/metadata."""
    event = {**payload.body, "topic": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t"}
    return json.dumps([event]).encode(), "application/json", {"aeg-event-type": "Notification"}


def cloudevents_batch(payload: Payload) -> Request:
    return json.dumps([payload.body]).encode(), "application/cloudevents-batch+json", {}


def cloudevents_structured(payload: Payload) -> Request:
    return json.dumps(payload.body).encode(), "application/cloudevents+json", {}


def cloudevents_binary(payload: Payload) -> Request:
    """Binary mode: attributes as ce-* headers, the body is the data."""
    event = payload.body
    headers = {f"ce-{name}": str(event[name]) for name in ("specversion", "id", "source", "type", "time")}
    if "subject" in event:
        headers["ce-subject"] = event["subject"]
    return json.dumps(event["data"]).encode(), event["datacontenttype"], headers


#: kind → [(mode, config fields, echo)].
ECHOES: dict[str, list[tuple[str, dict[str, Any], Callable[[Payload], Request]]]] = {
    "aws_eventbridge": [("api-destination", {}, eventbridge_api_destination)],
    "gcp_pubsub": [
        ("push", {}, pubsub_push),
        ("push-ordered", {"gcp_ordering_by_subject": True}, pubsub_push),
    ],
    "azure_eventgrid": [
        ("eventgrid-schema", {"azure_input_schema": "eventgrid"}, eventgrid_array),
        ("cloudevents-batch", {"azure_input_schema": "cloudevents"}, cloudevents_batch),
        ("cloudevents-structured", {"azure_input_schema": "cloudevents"}, cloudevents_structured),
        ("cloudevents-binary", {"azure_input_schema": "cloudevents"}, cloudevents_binary),
    ],
}
CASES = [(kind, mode, fields, echo) for kind, echoes in ECHOES.items() for mode, fields, echo in echoes]


#: The kinds whose events come back (push or pull): a kind without a receiver has nothing to echo.
ROUND_TRIP_KINDS = sorted(kind for kind, spec in KINDS.items() if spec.round_trip)


def test_every_kind_has_echoes():
    assert set(ECHOES) == set(ROUND_TRIP_KINDS)


@pytest.mark.parametrize(("kind", "mode", "fields", "echo"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_what_the_cloud_pushes_back_confirms_the_delivery(
    client, make_provider, make_receiver, kind, mode, fields, echo
):
    config = make_provider(f"echo-{mode}", kind, **fields)
    make_receiver(config)
    event = publish_event(
        event_type="OrderPlaced", source="com.test", subject="orders/o-9", data={"n": 9}, providers=[config], ring=False
    )
    send_due(provider_id=config.pk)
    payload = payload_format(client_settings(config)).build(outgoing_event(event))
    body, content_type, headers = echo(payload)
    target = reverse(spec_for(kind).receiver.url_name, args=[config.pk]) + f"?token={RECEIVER_TOKEN}"

    response = client.post(target, data=body, content_type=content_type, headers=headers)

    assert response.status_code == spec_for(kind).receiver.ok_status, response.content
    receipt = Receipt.objects.get(provider=config)
    assert (receipt.key, receipt.event_id) == (str(event.id), event.id)
    delivery = Delivery.objects.get(event=event)
    assert delivery.confirmed_at is not None and receipt.delivery == delivery
    assert delivery.confirmed_via.startswith(f"{spec_for(kind).label} receiver")


#: kind → the statuses after which its cloud stops redelivering a push, per its documentation
#: (docs/round-trip.md, "Poison"): a kind added to the registry must say here what its cloud does.
STOPS_REDELIVERY: dict[str, Callable[[int], bool]] = {
    # API destinations retry 401, 407, 409, 429 and 5xx; no other status.
    "aws_eventbridge": lambda status: status not in (401, 407, 409, 429) and status < 500,
    # Push acknowledges 102, 200, 201, 202 and 204; anything else is redelivered until it expires.
    "gcp_pubsub": lambda status: status in (102, 200, 201, 202, 204),
    # Webhooks are not retried after 400, 413, 401 or 403 (nor, of course, after a success).
    "azure_eventgrid": lambda status: status in (400, 401, 403, 413) or 200 <= status < 300,
}


def test_every_kind_says_when_its_cloud_stops_redelivering():
    assert set(STOPS_REDELIVERY) == set(ROUND_TRIP_KINDS)


@pytest.mark.parametrize("kind", ROUND_TRIP_KINDS)
@pytest.mark.parametrize(
    ("poison", "reason"),
    [
        (b"{not json", "The body is not acceptable JSON"),
        (b"[" * 1000 + b"]" * 1000, "nested more than 64 levels deep"),
        (b"x" * 5000, "The body is larger than 4,096 bytes (5,000 bytes)."),
    ],
    ids=["not-json", "too-deep", "too-large"],
)
def test_poison_from_an_authenticated_sender_is_kept_and_answered_so_the_cloud_stops(
    client, make_provider, make_receiver, kind, poison, reason
):
    config = make_provider(f"poison-{kind}".replace("_", "-"), kind)
    make_receiver(config, max_body_bytes=4096)
    target = reverse(spec_for(kind).receiver.url_name, args=[config.pk]) + f"?token={RECEIVER_TOKEN}"

    response = client.post(target, data=poison, content_type="application/json")

    assert STOPS_REDELIVERY[kind](response.status_code), response.status_code
    receipt = Receipt.objects.get(provider=config)
    assert receipt.event is None and reason in json.loads(receipt.body)["unparsable"]
    client.post(target, data=poison, content_type="application/json")
    assert Receipt.objects.get(provider=config).arrivals == 2  # redelivered poison: one receipt, counted
