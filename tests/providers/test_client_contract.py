"""One contract, every client: demo and production, each provider, same cases."""

import uuid
from datetime import UTC, datetime

import pytest

from providers.clients.base import ClientSettings, Outcome, OutgoingEvent
from providers.clients.registry import build_client
from tests.conftest import EVENTGRID_TEST_KEY

CLIENTS = [
    ("demo", "aws_eventbridge"),
    ("demo", "gcp_pubsub"),
    ("demo", "azure_eventgrid"),
    ("production", "aws_eventbridge"),
    ("production", "gcp_pubsub"),
    ("production", "azure_eventgrid"),
]
#: An event whose data breaks every provider's limit at these settings.
OVERSIZE = {"pad": "x" * 10_000_001}


@pytest.fixture(params=CLIENTS, ids=[f"{mode}-{kind}" for mode, kind in CLIENTS])
def client(request):
    mode, kind = request.param
    options, credentials = {}, {}
    if kind == "aws_eventbridge":
        options = {"region": "eu-west-1", "source": "com.test.orders", "max_entry_bytes": 262144, "event_bus": "b"}
        if mode == "production":
            target = request.getfixturevalue("eventbridge_target")
            options |= {"event_bus": target.bus, "endpoint_url": request.getfixturevalue("moto_server").url}
            credentials = {"aws_access_key_id": "AKIATEST", "aws_secret_access_key": "x"}
    elif kind == "gcp_pubsub":
        options = {"project": "helios-test", "topic": "orders", "ordering_by_subject": False}
        if mode == "production":
            credentials = {"emulator_host": request.getfixturevalue("pubsub_standin").host}
    else:
        options = {"endpoint": "https://t.example/api/events", "input_schema": "cloudevents"}
        if mode == "production":
            options["endpoint"] = request.getfixturevalue("eventgrid_sink").endpoint
            credentials = {"key": EVENTGRID_TEST_KEY}
    settings = ClientSettings(
        name=f"{mode}-{kind}", kind=kind, options=options, timeout_seconds=3.0, credentials=credentials
    )
    built = build_client(settings, mode=mode)
    assert built.mode == mode
    yield built
    built.close()


def make_events(n: int, data: dict | None = None) -> list[OutgoingEvent]:
    now = datetime.now(UTC)
    return [
        OutgoingEvent(str(uuid.uuid4()), "OrderPlaced", "com.test", f"s/{i}", now, data or {"i": i}) for i in range(n)
    ]


def test_one_success_per_event_in_order_across_batches(client):
    events = make_events(23)  # more than one EventBridge batch
    results = client.publish(events)
    assert [r.event_id for r in results] == [e.id for e in events]
    assert all(r.outcome is Outcome.SUCCEEDED and r.message_id for r in results)
    assert len({r.message_id for r in results}) == 23


def test_an_event_over_the_limit_fails_alone_and_permanently(client):
    events = make_events(2)
    too_big = make_events(1, OVERSIZE)[0]
    results = client.publish([events[0], too_big, events[1]])
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.PERMANENT_ERROR, Outcome.SUCCEEDED]
    assert results[1].error_code == "PayloadRejected"
    assert "bytes" in results[1].error_message


def test_nothing_to_publish_sends_nothing(client):
    assert client.publish([]) == []
    if client.mode == "production":  # the SDK client is made on first use: none made, no call possible
        assert client._sdk is None


PRODUCTION = [(mode, kind) for mode, kind in CLIENTS if mode == "production"]


@pytest.mark.parametrize("client", PRODUCTION, indirect=True, ids=[kind for _, kind in PRODUCTION])
def test_a_closed_client_reconnects_on_next_use(client):
    assert client.publish(make_events(1))[0].ok
    first = client._sdk
    client.close()
    assert client._sdk is None  # closed: its connections are released
    assert client.publish(make_events(1))[0].ok
    assert client._sdk is not None and client._sdk is not first  # a new SDK client, connected again


def test_after_a_whole_batch_fails_the_rest_is_not_sent(eventgrid_sink):
    settings = ClientSettings(
        name="eg",
        kind="azure_eventgrid",
        options={"endpoint": eventgrid_sink.endpoint, "input_schema": "cloudevents"},
        timeout_seconds=3.0,
        credentials={"key": EVENTGRID_TEST_KEY},
    )
    client = build_client(settings, mode="production")
    big = {"pad": "x" * 400_000}  # two events per 1 MB request
    eventgrid_sink.responses.append((503, {}))
    results = client.publish(make_events(6, big))
    client.close()
    assert len(eventgrid_sink.requests) == 1
    assert {r.outcome for r in results} == {Outcome.RETRYABLE_ERROR}
    assert all(r.error_message.startswith("Not sent: an earlier batch") for r in results[2:])
