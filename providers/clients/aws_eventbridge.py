"""AWS EventBridge: PutEvents entries and the limits AWS applies to them.

The HELIOS event id travels in the Detail envelope (AWS's own "metadata / data" event
design pattern): `Detail = {"metadata": {"event_id", "source", "subject"}, "data": {...}}`,
so a consumer can de-duplicate on `detail.metadata.event_id` and rules match on
`detail.data.*`. The entry's Source is the provider config's source.
"""

import uuid
from typing import ClassVar

from .base import OutgoingEvent, Payload, PayloadFormat
from .jsonsize import compact_json, utf8_len

DEFAULT_MAX_ENTRY_BYTES = 256 * 1024
#: AWS counts the Time field as 14 bytes whether or not it is sent.
TIME_FIELD_BYTES = 14
MAX_DETAIL_TYPE_CHARS = 128
MAX_SOURCE_CHARS = 256


class EventBridgeFormat(PayloadFormat):
    """PutEvents entries: at most 10 per call, each within the entry size limit."""

    kind: ClassVar[str] = "aws_eventbridge"
    max_batch_events: ClassVar[int] = 10
    simulated_failure = ("ThrottlingException", "Rate exceeded (simulated by demo mode).")

    @property
    def max_entry_bytes(self) -> int:
        """The configured entry size limit (AWS documents 256 KB; 1 MB since 2026)."""
        return int(self.options.get("max_entry_bytes") or DEFAULT_MAX_ENTRY_BYTES)

    @property
    def max_batch_bytes(self) -> int:
        """Whole-request bound: conservatively, the entry limit applies to the request."""
        return self.max_entry_bytes

    def build(self, event: OutgoingEvent) -> Payload:
        """The PutEvents entry for one event, sized the way AWS sizes it."""
        detail = compact_json(
            {
                "metadata": {
                    "event_id": event.id,
                    "source": event.source,
                    "subject": event.subject,
                },
                "data": event.data,
            }
        )
        entry = {
            "Source": self.options["source"],
            "DetailType": event.type,
            "Detail": detail,
            "EventBusName": self.options["event_bus"],
            "Time": event.time,
        }
        size = TIME_FIELD_BYTES + utf8_len(entry["Source"]) + utf8_len(entry["DetailType"]) + utf8_len(detail)
        return Payload(event_id=event.id, body=entry, size=size)

    def problems(self, payload: Payload) -> list[str]:
        """Limits from the PutEvents API reference."""
        entry = payload.body
        found = []
        if payload.size > self.max_entry_bytes:
            found.append(
                f"The EventBridge entry is {payload.size:,} bytes; the limit is "
                f"{self.max_entry_bytes:,} bytes (Source + DetailType + Detail, "
                f"plus {TIME_FIELD_BYTES} bytes for Time)."
            )
        if not entry["DetailType"] or len(entry["DetailType"]) > MAX_DETAIL_TYPE_CHARS:
            found.append(f"EventBridge needs an event type (DetailType) of 1 to {MAX_DETAIL_TYPE_CHARS} characters.")
        source = entry["Source"]
        if not source or len(source) > MAX_SOURCE_CHARS or source.startswith("aws."):
            found.append(
                f"EventBridge needs a Source of 1 to {MAX_SOURCE_CHARS} characters "
                "that does not start with the reserved prefix 'aws.'."
            )
        return found

    def new_message_id(self, event: OutgoingEvent) -> str:
        """EventBridge EventIds are UUIDs."""
        return str(uuid.uuid4())
