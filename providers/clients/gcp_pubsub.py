"""GCP Pub/Sub: one message per event, CloudEvents attributes, and Pub/Sub's limits.

Messages follow the CloudEvents Pub/Sub binding in binary mode: data is the event's JSON
data, attributes carry `ce-id` (the HELIOS event id), `ce-type`, `ce-source`,
`ce-specversion`, `ce-time` and, when set, `ce-subject`.
"""

import random
from typing import ClassVar

from .base import OutgoingEvent, Payload, PayloadFormat
from .jsonsize import compact_json, utf8_len

MAX_DATA_BYTES = 10_000_000
MAX_REQUEST_BYTES = 10_000_000
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_KEY_BYTES = 256
MAX_ATTRIBUTE_VALUE_BYTES = 1024


class PubSubFormat(PayloadFormat):
    """Pub/Sub messages: at most 1,000 and 10,000,000 bytes per publish request."""

    kind: ClassVar[str] = "gcp_pubsub"
    max_batch_events: ClassVar[int] = 1000
    simulated_failure = ("UNAVAILABLE", "The service is currently unavailable (simulated by demo mode).")

    @property
    def max_batch_bytes(self) -> int:
        """Pub/Sub's publish request limit."""
        return MAX_REQUEST_BYTES

    def build(self, event: OutgoingEvent) -> Payload:
        """The message data and attributes for one event."""
        data = compact_json(event.data).encode("utf-8")
        attributes = {
            "ce-specversion": "1.0",
            "ce-id": event.id,
            "ce-type": event.type,
            "ce-source": event.source,
            "ce-time": event.time.isoformat(),
            "content-type": "application/json",
        }
        if event.subject:
            attributes["ce-subject"] = event.subject
        size = len(data) + sum(utf8_len(k) + utf8_len(v) for k, v in attributes.items())
        return Payload(event_id=event.id, body={"data": data, "attributes": attributes}, size=size)

    def problems(self, payload: Payload) -> list[str]:
        """Limits from Pub/Sub's quotas page."""
        data: bytes = payload.body["data"]
        attributes: dict[str, str] = payload.body["attributes"]
        found = []
        if len(data) > MAX_DATA_BYTES:
            found.append(
                f"The Pub/Sub message data is {len(data):,} bytes; Pub/Sub accepts at most {MAX_DATA_BYTES:,} bytes."
            )
        if len(attributes) > MAX_ATTRIBUTES:
            found.append(
                f"The Pub/Sub message has {len(attributes)} attributes; Pub/Sub accepts at most {MAX_ATTRIBUTES}."
            )
        for key, value in attributes.items():
            if utf8_len(key) > MAX_ATTRIBUTE_KEY_BYTES:
                found.append(
                    f"The Pub/Sub attribute name '{key[:40]}…' is {utf8_len(key)} bytes; "
                    f"the limit is {MAX_ATTRIBUTE_KEY_BYTES} bytes."
                )
            if utf8_len(value) > MAX_ATTRIBUTE_VALUE_BYTES:
                found.append(
                    f"The Pub/Sub attribute '{key}' is {utf8_len(value):,} bytes; "
                    f"the limit is {MAX_ATTRIBUTE_VALUE_BYTES:,} bytes."
                )
        return found

    def new_message_id(self, event: OutgoingEvent) -> str:
        """Pub/Sub message ids are decimal strings of about 16 digits."""
        return str(random.randrange(10**15, 10**17))
