"""What a CloudEvents webhook receives: one CloudEvent per request (structured or binary content
mode), or a JSON array of them (batched mode), within the endpoint's request size."""

from typing import Any, ClassVar

from ...clients.base import OutgoingEvent, Payload, PayloadFormat
from ...clients.jsonsize import compact_json, utf8_len

STRUCTURED, BINARY, BATCHED = "structured", "binary", "batched"
#: What a request of each content mode is declared as.
CONTENT_TYPES = {
    STRUCTURED: "application/cloudevents+json; charset=utf-8",
    BINARY: "application/json",
    BATCHED: "application/cloudevents-batch+json; charset=utf-8",
}
#: Events per request in batched mode (the request size is the other bound).
MAX_BATCH_EVENTS = 100
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024


class CloudEventsHttpFormat(PayloadFormat):
    """CloudEvents in the config's content mode, each request within its size limit."""

    max_batch_events: ClassVar[int] = 1
    simulated_failure = ("HTTP 503", "The endpoint answered HTTP 503 Service Unavailable (simulated by demo mode).")

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.max_batch_events = MAX_BATCH_EVENTS if self.mode == BATCHED else 1  # type: ignore[misc]

    @property
    def mode(self) -> str:
        """structured, binary or batched."""
        return self.options.get("content_mode") or STRUCTURED

    @property
    def limit(self) -> int:
        """The largest request the endpoint takes, in bytes."""
        return int(self.options.get("max_request_bytes") or DEFAULT_MAX_REQUEST_BYTES)

    @property
    def max_batch_bytes(self) -> int:
        """A batch is a JSON array: each event costs its bytes plus one separator (or bracket)."""
        return self.limit - 1

    def build(self, event: OutgoingEvent) -> Payload:
        """The CloudEvent, sized as HELIOS sends it (compact JSON; in binary mode the data alone)."""
        body = event.as_cloudevent()
        sent = event.data_json if self.mode == BINARY else compact_json(body)
        return Payload(event_id=event.id, body=body, size=utf8_len(sent) + 1)

    def problems(self, payload: Payload) -> list[str]:
        """An event over the endpoint's request size cannot be sent at all."""
        size, limit = self.measure(payload)
        if size > limit:
            return [
                f"The CloudEvent is {size:,} bytes; this endpoint takes at most {limit:,} bytes per request "
                "(the config's request size)."
            ]
        return []

    def new_message_id(self, event: OutgoingEvent) -> str:
        """A webhook has no message id of its own: the receiver sees the event id."""
        return event.id

    def measure(self, payload: Payload) -> tuple[int, int]:
        """The event alone in a request against the request size."""
        return payload.size - 1 + (2 if self.mode == BATCHED else 0), self.limit
