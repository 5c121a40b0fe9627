"""The demo client follows the shared flow: limits, provider-shaped ids, rehearsed failures."""

import re
import uuid
from datetime import UTC, datetime

import pytest

from providers.clients.base import ClientSettings, Outcome, OutgoingEvent
from providers.kinds import build_client

OPTIONS = {
    "aws_eventbridge": {"region": "eu-west-1", "event_bus": "default", "source": "com.test", "max_entry_bytes": 2048},
    "gcp_pubsub": {"project": "helios-test", "topic": "orders"},
    "azure_eventgrid": {"endpoint": "https://t.example/api/events", "input_schema": "cloudevents"},
}
MESSAGE_ID = {
    "aws_eventbridge": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "gcp_pubsub": re.compile(r"^\d{15,17}$"),
}


def demo_client(kind: str, **settings: object):
    return build_client(ClientSettings(name=f"{kind}-t", kind=kind, options=OPTIONS[kind], **settings), mode="demo")


def events(n: int, data: dict | None = None) -> list[OutgoingEvent]:
    now = datetime.now(UTC)
    return [OutgoingEvent(str(uuid.uuid4()), "OrderPlaced", "com.test", "", now, data or {"i": i}) for i in range(n)]


@pytest.mark.parametrize("kind", list(OPTIONS))
def test_success_gives_one_result_per_event_in_order_with_provider_ids(kind):
    sent = events(25)
    results = demo_client(kind).publish(sent)
    assert [r.event_id for r in results] == [e.id for e in sent]
    assert all(r.outcome is Outcome.SUCCEEDED for r in results)
    for event, result in zip(sent, results, strict=True):
        if kind == "azure_eventgrid":
            assert result.message_id == event.id
        else:
            assert MESSAGE_ID[kind].match(result.message_id), result.message_id
    assert len({r.message_id for r in results}) == 25


@pytest.mark.parametrize("kind", list(OPTIONS))
def test_failure_rate_one_rehearses_a_retryable_provider_error(kind):
    results = demo_client(kind, demo_failure_rate=1.0).publish(events(3))
    assert {r.outcome for r in results} == {Outcome.RETRYABLE_ERROR}
    assert all(r.error_code and "simulated" in r.error_message for r in results)


def test_partial_failure_rate_mixes_outcomes():
    results = demo_client("gcp_pubsub", demo_failure_rate=0.5).publish(events(200))
    failed = sum(r.outcome is Outcome.RETRYABLE_ERROR for r in results)
    assert 40 < failed < 160


def test_event_over_the_limit_fails_permanently_and_the_rest_still_succeed():
    sent = events(2)
    too_big = OutgoingEvent(str(uuid.uuid4()), "OrderPlaced", "com.test", "", sent[0].time, {"pad": "x" * 3000})
    results = demo_client("aws_eventbridge").publish([sent[0], too_big, sent[1]])
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.PERMANENT_ERROR, Outcome.SUCCEEDED]
    assert results[1].error_code == "PayloadRejected"
    assert "limit is 2,048 bytes" in results[1].error_message


def test_latency_is_simulated_per_batch():
    import time

    client = demo_client("azure_eventgrid", demo_latency_ms=50)
    started = time.monotonic()
    client.publish(events(5))
    assert 0.025 <= time.monotonic() - started < 1.0
