"""Each provider's payload and limits, exactly at and just past each boundary."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.clients.base import OutgoingEvent
from providers.clients.jsonsize import compact_json
from providers.kinds.aws_eventbridge.client import EventBridgeFormat
from providers.kinds.azure_eventgrid.client import EventGridFormat
from providers.kinds.gcp_pubsub.client import PubSubFormat

EVENT_ID = "0b6f5a1e-8a5d-4a43-9d61-3c1e4f3b2a10"
AWS_OPTIONS = {"region": "eu-west-1", "event_bus": "orders", "source": "com.test.orders", "max_entry_bytes": 262144}


def event(data: dict, *, type_: str = "OrderPlaced", source: str = "com.test", subject: str = "") -> OutgoingEvent:
    return OutgoingEvent(
        id=EVENT_ID, type=type_, source=source, subject=subject, time=datetime(2026, 1, 2, tzinfo=UTC), data=data
    )


def padded_to(fmt, target_size: int) -> OutgoingEvent:
    """An event whose payload is exactly `target_size` bytes as the provider counts it."""
    base = fmt.build(event({"pad": ""})).size
    return event({"pad": "x" * (target_size - base)})


class TestEventBridge:
    def test_entry_carries_source_type_bus_and_event_id_in_detail(self):
        entry = EventBridgeFormat(AWS_OPTIONS).build(event({"order_id": "o-1"}, subject="orders/o-1")).body
        assert entry["Source"] == "com.test.orders"
        assert entry["DetailType"] == "OrderPlaced"
        assert entry["EventBusName"] == "orders"
        assert json.loads(entry["Detail"]) == {
            "metadata": {"event_id": EVENT_ID, "source": "com.test", "subject": "orders/o-1"},
            "data": {"order_id": "o-1"},
        }

    @given(
        data=st.dictionaries(
            st.text(max_size=8),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                max_leaves=12,
            ),
            max_size=4,
        ),
        subject=st.text(max_size=12),
    )
    def test_detail_is_the_compact_json_of_metadata_and_data_whatever_the_data(self, data, subject):
        """The Detail reuses the event's data JSON (made once for every provider): it must be
        exactly what serializing the whole Detail at once gives, byte for byte."""
        outgoing = event(data, subject=subject)
        detail = EventBridgeFormat(AWS_OPTIONS).build(outgoing).body["Detail"]
        metadata = {"event_id": EVENT_ID, "source": "com.test", "subject": subject}
        assert detail == compact_json({"metadata": metadata, "data": data})
        assert PubSubFormat({}).build(outgoing).body["data"] == compact_json(data).encode()

    def test_size_is_counted_the_way_aws_counts_it(self):
        payload = EventBridgeFormat(AWS_OPTIONS).build(event({"note": "é"}))
        entry = payload.body
        expected = 14 + len(b"com.test.orders") + len(b"OrderPlaced") + len(entry["Detail"].encode("utf-8"))
        assert payload.size == expected
        assert "é" in entry["Detail"]  # UTF-8 kept, counted as 2 bytes

    def test_entry_at_the_limit_passes_and_one_byte_more_is_rejected(self):
        fmt = EventBridgeFormat(AWS_OPTIONS)
        assert fmt.problems(fmt.build(padded_to(fmt, 262144))) == []
        problems = fmt.problems(fmt.build(padded_to(fmt, 262145)))
        assert len(problems) == 1
        assert "262,145 bytes" in problems[0] and "262,144" in problems[0]

    def test_limit_is_configurable(self):
        fmt = EventBridgeFormat({**AWS_OPTIONS, "max_entry_bytes": 1024 * 1024})
        assert fmt.problems(fmt.build(padded_to(fmt, 300_000))) == []

    def test_detail_type_and_reserved_source_are_rejected(self):
        fmt = EventBridgeFormat({**AWS_OPTIONS, "source": "aws.s3"})
        problems = fmt.problems(fmt.build(event({}, type_="T" * 129)))
        assert any("DetailType" in p for p in problems)
        assert any("'aws.'" in p for p in problems)

    def test_batches_hold_at_most_ten_entries(self):
        fmt = EventBridgeFormat(AWS_OPTIONS)
        payloads = [fmt.build(event({"i": i})) for i in range(23)]
        assert [len(b) for b in fmt.batches(payloads)] == [10, 10, 3]


class TestPubSub:
    def test_message_is_json_data_with_cloudevents_attributes(self):
        body = PubSubFormat({}).build(event({"a": 1}, subject="s-1")).body
        assert json.loads(body["data"]) == {"a": 1}
        assert body["attributes"]["ce-id"] == EVENT_ID
        assert body["attributes"]["ce-type"] == "OrderPlaced"
        assert body["attributes"]["ce-source"] == "com.test"
        assert body["attributes"]["ce-subject"] == "s-1"

    def test_data_at_ten_million_bytes_passes_and_one_more_is_rejected(self):
        fmt = PubSubFormat({})
        attrs = fmt.build(event({"pad": ""})).size - len(fmt.build(event({"pad": ""})).body["data"])
        assert fmt.problems(fmt.build(padded_to(fmt, 10_000_000 + attrs))) == []
        problems = fmt.problems(fmt.build(padded_to(fmt, 10_000_001 + attrs)))
        assert problems == ["The Pub/Sub message data is 10,000,001 bytes; Pub/Sub accepts at most 10,000,000 bytes."]

    def test_attribute_value_over_1024_bytes_is_rejected(self):
        fmt = PubSubFormat({})
        assert fmt.problems(fmt.build(event({}, subject="s" * 1024))) == []
        problems = fmt.problems(fmt.build(event({}, subject="s" * 1025)))
        assert problems == ["The Pub/Sub attribute 'ce-subject' is 1,025 bytes; the limit is 1,024 bytes."]

    def test_attribute_count_and_key_length_are_checked(self):
        fmt = PubSubFormat({})
        payload = fmt.build(event({}))
        payload.body["attributes"].update({f"k{i}": "v" for i in range(100)})
        payload.body["attributes"]["k" * 257] = "v"
        problems = fmt.problems(payload)
        assert any("attributes; Pub/Sub accepts at most 100" in p for p in problems)
        assert any("257 bytes; the limit is 256 bytes" in p for p in problems)


class TestEventGrid:
    def test_cloudevents_schema_by_default(self):
        body = EventGridFormat({"input_schema": "cloudevents"}).build(event({"a": 1}, subject="x")).body
        assert body["specversion"] == "1.0"
        assert (body["id"], body["type"], body["source"], body["subject"]) == (EVENT_ID, "OrderPlaced", "com.test", "x")

    def test_event_grid_schema_when_configured(self):
        body = EventGridFormat({"input_schema": "eventgrid"}).build(event({"a": 1})).body
        assert body["eventType"] == "OrderPlaced"
        assert body["dataVersion"] == "1.0"
        assert body["subject"] == "com.test"  # required by the schema: falls back to the source

    def test_one_megabyte_limit_per_event_and_request(self):
        fmt = EventGridFormat({"input_schema": "cloudevents"})
        # A request is "[event]": the event may be at most 1 MB minus the two brackets.
        fits = padded_to(fmt, 1024 * 1024 - 1)
        assert fmt.problems(fmt.build(fits)) == []
        too_big = padded_to(fmt, 1024 * 1024)
        assert "1,048,576 bytes per event and per request" in fmt.problems(fmt.build(too_big))[0]

    def test_batches_stay_within_one_megabyte(self):
        fmt = EventGridFormat({"input_schema": "cloudevents"})
        payloads = [fmt.build(padded_to(fmt, 300_000)) for _ in range(7)]
        batches = list(fmt.batches(payloads))
        assert [len(b) for b in batches] == [3, 3, 1]
        for batch in batches:
            request = "[" + ",".join(json.dumps(p.body) for p in batch) + "]"
            assert len(request.encode()) <= 1024 * 1024

    def test_message_id_is_the_event_id(self):
        fmt = EventGridFormat({})
        assert fmt.new_message_id(event({})) == EVENT_ID


@pytest.mark.parametrize("fmt", [EventBridgeFormat(AWS_OPTIONS), PubSubFormat({}), EventGridFormat({})])
def test_every_format_keeps_order_when_batching(fmt):
    payloads = [fmt.build(event({"i": i})) for i in range(12)]
    flattened = [p for batch in fmt.batches(payloads) for p in batch]
    assert flattened == payloads
