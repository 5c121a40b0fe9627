"""One contract, every client: demo and production, each registered kind, same cases.

The real clients meet their clouds' failures over a real wire: moto or an HTTP stand-in answering
AWS's JSON errors for EventBridge, the gRPC stand-in for Pub/Sub, the HTTP sink for Event Grid.
A kind added to the registry must add its stand-in wiring here (test_every_kind_is_covered).
"""

import json
import uuid
from datetime import UTC, datetime

import grpc
import pytest

from providers.checks import check_connection
from providers.clients.base import ClientSettings, Outcome, OutgoingEvent
from providers.kinds import KINDS, build_client
from providers.models import ProviderConfig
from tests.conftest import EVENTGRID_TEST_KEY, WEBHOOK_TEST_SECRET

CLIENTS = [
    ("demo", "aws_eventbridge"),
    ("demo", "gcp_pubsub"),
    ("demo", "azure_eventgrid"),
    ("demo", "cloudevents_http"),
    ("production", "aws_eventbridge"),
    ("production", "gcp_pubsub"),
    ("production", "azure_eventgrid"),
    ("production", "cloudevents_http"),
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
    elif kind == "azure_eventgrid":
        options = {"endpoint": "https://t.example/api/events", "input_schema": "cloudevents"}
        if mode == "production":
            options["endpoint"] = request.getfixturevalue("eventgrid_sink").endpoint
            credentials = {"key": EVENTGRID_TEST_KEY}
    else:
        options = {"url": "https://events.example.com/ce", "content_mode": "batched", "max_request_bytes": 1048576}
        if mode == "production":
            options["url"] = request.getfixturevalue("webhook_endpoint").endpoint
            credentials = {"secret": WEBHOOK_TEST_SECRET}
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


def test_nothing_to_publish_sends_nothing(client, request):
    assert client.publish([]) == []
    if client.mode == "production":  # the SDK client is made on first use: none made, no call possible
        assert client.lazy_sdk.current is None
    if "pubsub_standin" in request.fixturenames:
        assert request.getfixturevalue("pubsub_standin").publish_calls == 0
    if "eventgrid_sink" in request.fixturenames:
        assert request.getfixturevalue("eventgrid_sink").requests == []


PRODUCTION = [(mode, kind) for mode, kind in CLIENTS if mode == "production"]


@pytest.mark.parametrize("client", PRODUCTION, indirect=True, ids=[kind for _, kind in PRODUCTION])
def test_a_closed_client_reconnects_on_next_use(client):
    assert client.publish(make_events(1))[0].ok
    first = client.lazy_sdk.current
    client.close()
    assert client.lazy_sdk.current is None  # closed: its connections are released
    assert client.publish(make_events(1))[0].ok
    assert (
        client.lazy_sdk.current is not None and client.lazy_sdk.current is not first
    )  # a new SDK client, connected again


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


# --- Failures over the wire: throttled, credentials refused, too slow; connection tests in words.


def aws_error(code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """An AWS JSON-protocol error answer, as EventBridge sends it."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return 400, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, body


class EventBridgeWire:
    """EventBridge's failures: an HTTP stand-in answering as AWS does (moto cannot be told to fail)."""

    kind = "aws_eventbridge"

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.sink = request.getfixturevalue("eventgrid_sink")

    def settings(self, timeout: float) -> ClientSettings:
        options = {"region": "eu-west-1", "source": "com.test.orders", "max_entry_bytes": 262144, "event_bus": "b"}
        options["endpoint_url"] = f"http://127.0.0.1:{self.sink.port}"
        credentials = {"aws_access_key_id": "AKIATEST", "aws_secret_access_key": "x"}
        return ClientSettings("aws", "aws_eventbridge", options, timeout_seconds=timeout, credentials=credentials)

    def throttle(self) -> float | None:
        self.sink.fail_always = aws_error("ThrottlingException", "Rate exceeded")
        return None  # AWS sends no Retry-After

    def refuse_credentials(self) -> None:
        self.sink.fail_always = aws_error(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )

    def slow_down(self, seconds: float) -> None:
        self.sink.delay_seconds = seconds

    def config_fields(self) -> dict[str, str]:
        return {"aws_endpoint_url": f"http://127.0.0.1:{self.sink.port}"}


class PubSubWire:
    kind = "gcp_pubsub"

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.standin = request.getfixturevalue("pubsub_standin")

    def settings(self, timeout: float) -> ClientSettings:
        options = {"project": "helios-test", "topic": "orders", "ordering_by_subject": False, "emulator_host": ""}
        credentials = {"emulator_host": self.standin.host}
        return ClientSettings("gcp", "gcp_pubsub", options, timeout_seconds=timeout, credentials=credentials)

    def throttle(self) -> float | None:
        self.standin.fail_always = grpc.StatusCode.RESOURCE_EXHAUSTED
        self.standin.fail_get_topic = grpc.StatusCode.RESOURCE_EXHAUSTED
        return None

    def refuse_credentials(self) -> None:
        self.standin.fail_always = grpc.StatusCode.UNAUTHENTICATED
        self.standin.fail_get_topic = grpc.StatusCode.UNAUTHENTICATED

    def slow_down(self, seconds: float) -> None:
        self.standin.delay_seconds = seconds

    def config_fields(self) -> dict[str, str]:
        return {"gcp_emulator_host": self.standin.host}


class EventGridWire:
    kind = "azure_eventgrid"

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.sink = request.getfixturevalue("eventgrid_sink")

    def settings(self, timeout: float) -> ClientSettings:
        options = {"endpoint": self.sink.endpoint, "input_schema": "cloudevents"}
        credentials = {"key": EVENTGRID_TEST_KEY}
        return ClientSettings("azure", "azure_eventgrid", options, timeout_seconds=timeout, credentials=credentials)

    def throttle(self) -> float | None:
        self.sink.fail_always = (429, {"Retry-After": "7"})
        return 7.0

    def refuse_credentials(self) -> None:
        self.sink.fail_always = 401

    def slow_down(self, seconds: float) -> None:
        self.sink.delay_seconds = seconds

    def config_fields(self) -> dict[str, str]:
        return {"azure_endpoint": self.sink.endpoint}


class WebhookWire:
    kind = "cloudevents_http"

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.endpoint = request.getfixturevalue("webhook_endpoint")

    def settings(self, timeout: float) -> ClientSettings:
        options = {"url": self.endpoint.endpoint, "content_mode": "structured", "max_request_bytes": 1048576}
        credentials = {"secret": WEBHOOK_TEST_SECRET}
        return ClientSettings("webhook", "cloudevents_http", options, timeout_seconds=timeout, credentials=credentials)

    def throttle(self) -> float | None:
        self.endpoint.fail_always = (429, {"Retry-After": "11"})
        return 11.0

    def refuse_credentials(self) -> None:
        self.endpoint.fail_always = 401

    def slow_down(self, seconds: float) -> None:
        self.endpoint.delay_seconds = seconds

    def config_fields(self) -> dict[str, str]:
        return {"webhook_url": self.endpoint.endpoint}


WIRES = {wire.kind: wire for wire in (EventBridgeWire, PubSubWire, EventGridWire, WebhookWire)}
#: The stand-ins answer slower than this by far: a timeout is certain however loaded the machine.
SHORT_TIMEOUT, SLOW_ANSWER = 1.0, 8.0


def test_every_kind_is_covered():
    assert set(WIRES) == set(KINDS)
    assert {kind for _, kind in CLIENTS} == set(KINDS)


@pytest.fixture(params=sorted(WIRES))
def wire(request):
    return WIRES[request.param](request)


@pytest.fixture
def failing_client(wire):
    clients = []

    def make(timeout: float = 3.0):
        clients.append(build_client(wire.settings(timeout), mode="production"))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def test_throttled_is_retryable_with_the_clouds_retry_after(wire, failing_client):
    retry_after = wire.throttle()
    [result] = failing_client().publish(make_events(1))
    assert result.outcome is Outcome.RETRYABLE_ERROR, result
    assert "throttl" in result.error_message.lower()
    assert result.retry_after_seconds == retry_after


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_demo_rehearsed_failure_is_retryable_and_shaped_like_the_cloud(kind):
    options = ProviderConfig(kind=kind, **KINDS[kind].demo_config).options()
    settings = ClientSettings("demo", kind, options, demo_failure_rate=1.0)
    client = build_client(settings, mode="demo")
    [result] = client.publish(make_events(1))
    assert result.outcome is Outcome.RETRYABLE_ERROR
    assert (result.error_code, result.error_message) == client.format.simulated_failure


def test_refused_credentials_fail_permanently_in_words(wire, failing_client):
    wire.refuse_credentials()
    [result] = failing_client().publish(make_events(1))
    assert result.outcome is Outcome.PERMANENT_ERROR, result
    assert result.error_code and result.error_message.endswith((".", ")"))
    assert any(word in result.error_message.lower() for word in ("credentials", "access key", "token"))


def test_no_answer_in_time_is_retryable(wire, failing_client):
    wire.slow_down(SLOW_ANSWER)
    [result] = failing_client(timeout=SHORT_TIMEOUT).publish(make_events(1))
    assert result.outcome is Outcome.RETRYABLE_ERROR, result
    assert "time" in result.error_message.lower()


@pytest.mark.django_db
class TestConnectionTestInWords:
    """The console's and CLI's connection test, through each real SDK, answers in a sentence."""

    def config(self, wire, production_providers):
        """The kind's production config, pointed at the wire that will fail."""
        config = production_providers[wire.kind]
        for name, value in wire.config_fields().items():
            setattr(config, name, value)
        config.save()
        return config

    def test_passes_with_what_it_proved(self, wire, production_providers):
        check = check_connection(production_providers[wire.kind])  # moto, the gRPC stand-in, the sink
        assert check.ok, check.message
        assert any(word in check.message for word in ("found", "accepted"))

    def test_refused_credentials(self, wire, production_providers):
        config = self.config(wire, production_providers)
        wire.refuse_credentials()
        check = check_connection(config)
        assert not check.ok
        assert check.message.split(":")[0].strip() and "Traceback" not in check.message
        assert any(word in check.message.lower() for word in ("credentials", "access key", "token"))

    def test_no_answer_in_time(self, wire, production_providers, settings):
        settings.HELIOS_PROVIDER_TIMEOUT_SECONDS = SHORT_TIMEOUT
        config = self.config(wire, production_providers)
        wire.slow_down(SLOW_ANSWER)
        check = check_connection(config)
        assert not check.ok
        assert "time" in check.message.lower(), check.message
