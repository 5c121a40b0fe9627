"""Azure Event Grid (basic topics): CloudEvents 1.0 or Event Grid schema, 1 MB limits.

Event Grid returns no message id; the id HELIOS sends (the HELIOS event id) is the one
subscribers see, so it is recorded as the provider message id.
"""

import json
from typing import ClassVar

from .base import OutgoingEvent, Payload, PayloadFormat
from .jsonsize import utf8_len

MAX_EVENT_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = 1024 * 1024
SCHEMA_CLOUDEVENTS = "cloudevents"
SCHEMA_EVENTGRID = "eventgrid"


class EventGridFormat(PayloadFormat):
    """Events in the topic's input schema: up to 5,000 and 1 MB per request."""

    kind: ClassVar[str] = "azure_eventgrid"
    max_batch_events: ClassVar[int] = 5000
    simulated_failure = ("ServiceUnavailable", "HTTP 503 from the topic endpoint (simulated by demo mode).")

    @property
    def max_batch_bytes(self) -> int:
        """A request is a JSON array: each event costs its bytes plus one separator."""
        return MAX_REQUEST_BYTES - 1

    def build(self, event: OutgoingEvent) -> Payload:
        """The event in the config's input schema, sized as azure-core serializes it."""
        if self.options.get("input_schema") == SCHEMA_EVENTGRID:
            body = {
                "id": event.id,
                "eventType": event.type,
                "subject": event.subject or event.source,
                "eventTime": event.time.isoformat(),
                "dataVersion": "1.0",
                "data": event.data,
            }
        else:
            body = {
                "specversion": "1.0",
                "id": event.id,
                "source": event.source,
                "type": event.type,
                "time": event.time.isoformat(),
                "datacontenttype": "application/json",
                "data": event.data,
            }
            if event.subject:
                body["subject"] = event.subject
        # azure-core uses json.dumps' default separators; count those bytes (+1 separator).
        size = utf8_len(json.dumps(body)) + 1
        return Payload(event_id=event.id, body=body, size=size)

    def problems(self, payload: Payload) -> list[str]:
        """Event Grid rejects events (and requests) over 1 MB with HTTP 413."""
        event_bytes = payload.size - 1
        if event_bytes + 2 > MAX_EVENT_BYTES:
            return [
                f"The Event Grid event is {event_bytes:,} bytes; Event Grid accepts at most "
                f"{MAX_EVENT_BYTES:,} bytes per event and per request."
            ]
        return []

    def new_message_id(self, event: OutgoingEvent) -> str:
        """Event Grid has no message id of its own: subscribers see the event id."""
        return event.id
