"""Azure Event Grid (basic topics): CloudEvents 1.0 or Event Grid schema, 1 MB limits.

Event Grid returns no message id; the id HELIOS sends (the HELIOS event id) is the one
subscribers see, so it is recorded as the provider message id.
"""

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from ...clients.base import (
    ErrorClass,
    Outcome,
    OutgoingEvent,
    Payload,
    PayloadFormat,
    PublishResult,
    SdkClient,
    SdkFailure,
    exception_text,
)
from ...clients.jsonsize import utf8_len

MAX_EVENT_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = 1024 * 1024
SCHEMA_CLOUDEVENTS = "cloudevents"
SCHEMA_EVENTGRID = "eventgrid"


class EventGridFormat(PayloadFormat):
    """Events in the topic's input schema: up to 5,000 and 1 MB per request."""

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
            body = event.as_cloudevent()
        # azure-core uses json.dumps' default separators; count those bytes (+1 separator).
        size = utf8_len(json.dumps(body)) + 1
        return Payload(event_id=event.id, body=body, size=size)

    def problems(self, payload: Payload) -> list[str]:
        """Event Grid rejects events (and requests) over 1 MB with HTTP 413."""
        request_bytes, limit = self.measure(payload)
        if request_bytes > limit:
            return [
                f"The Event Grid event is {payload.size - 1:,} bytes; Event Grid accepts at most "
                f"{MAX_EVENT_BYTES:,} bytes per event and per request."
            ]
        return []

    def new_message_id(self, event: OutgoingEvent) -> str:
        """Event Grid has no message id of its own: subscribers see the event id."""
        return event.id

    def measure(self, payload: Payload) -> tuple[int, int]:
        """The event alone in a request (a JSON array: two brackets) against the 1 MB limit."""
        return payload.size - 1 + 2, MAX_EVENT_BYTES


#: HTTP status from the topic endpoint → retryable?, meaning.
EVENTGRID_STATUS: dict[int, ErrorClass] = {
    400: ErrorClass(False, "Event Grid rejected the events as invalid for the topic's input schema."),
    401: ErrorClass(False, "Event Grid rejected the access key or SAS token."),
    403: ErrorClass(
        False,
        "The credentials may not publish to this topic (EventGrid Data Sender role, or the key or topic is disabled).",
    ),
    404: ErrorClass(False, "The topic endpoint was not found: check the endpoint URL."),
    413: ErrorClass(False, "Event Grid rejected the request as too large (over 1 MB)."),
    408: ErrorClass(True, "Event Grid timed out the request."),
    429: ErrorClass(True, "Event Grid throttled the request."),
}
UNREACHABLE = ErrorClass(True, "Could not reach the Event Grid endpoint (connection failed or timed out).")
#: A probe Event Grid must refuse: it matches neither schema, so nothing is ever delivered.
CONNECTION_PROBE = [{"helios_connection_check": True}]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (HTTP dates are ignored)."""
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def classify_eventgrid_status(status: int) -> ErrorClass:
    """The error class for an HTTP status from the topic endpoint."""
    if status in EVENTGRID_STATUS:
        return EVENTGRID_STATUS[status]
    return ErrorClass(status >= 500, f"Event Grid answered HTTP {status}.")


class EventGridClient(SdkClient):
    """azure-eventgrid `EventGridPublisherClient`: one POST per batch (≤ 1 MB)."""

    def make_sdk(self) -> Any:
        """The publisher client with the access key or SAS token."""
        from azure.core.credentials import AzureKeyCredential, AzureSasCredential
        from azure.eventgrid import EventGridPublisherClient

        secret = self.settings.credentials
        credential = AzureKeyCredential(secret["key"]) if "key" in secret else AzureSasCredential(secret["sas"])
        return EventGridPublisherClient(self.settings.options["endpoint"], credential)

    def _call_options(self) -> dict[str, Any]:
        """Per-call options: azure-eventgrid 4.22.1 drops them when given to the constructor.

        Connection errors get two quick SDK retries; HTTP statuses get none (`retry_status=0`):
        azure-core would sleep for any Retry-After the server sends, unbounded, inside the
        worker. HELIOS schedules those retries itself and honours Retry-After there.
        """
        timeout = self.settings.timeout_seconds
        return {
            "retry_total": 2,
            "retry_connect": 2,
            "retry_read": 1,
            "retry_status": 0,
            "retry_backoff_factor": 0.2,
            "retry_backoff_max": 2,
            "connection_timeout": min(5.0, timeout),
            "read_timeout": timeout,
        }

    def send_batch(self, events: Sequence[OutgoingEvent], payloads: Sequence[Payload]) -> list[PublishResult]:
        """One POST with the whole batch: Event Grid accepts or refuses it as a unit."""
        from azure.core.exceptions import AzureError

        try:
            self.sdk.send([payload.body for payload in payloads], **self._call_options())
        except AzureError as exc:
            failure = self.classify_exception(exc)
            return [failure.result(e.id, response=exception_text(exc)) for e in events]
        answer = f"HTTP 200: the topic accepted the request ({len(events)} events)"
        return [
            PublishResult(event_id=e.id, outcome=Outcome.SUCCEEDED, message_id=e.id, status_code=200, response=answer)
            for e in events
        ]

    def classify_exception(self, exc: Exception) -> SdkFailure:
        """What an azure-core exception means, by HTTP status."""
        from azure.core.exceptions import HttpResponseError

        if isinstance(exc, HttpResponseError) and exc.status_code:
            response = exc.response
            retry_after = parse_retry_after(response.headers.get("Retry-After") if response is not None else None)
            detail = f"provider asks to retry after {retry_after:g} s" if retry_after is not None else ""
            return SdkFailure(
                classify_eventgrid_status(exc.status_code),
                f"HTTP {exc.status_code}",
                detail,
                exc.status_code,
                retry_after,
            )
        return SdkFailure(UNREACHABLE, type(exc).__name__)

    def check_connection(self) -> str:
        """POST a probe no schema accepts: a 400 proves endpoint and key without delivering anything."""
        from azure.core.exceptions import HttpResponseError

        try:
            self.sdk.send(CONNECTION_PROBE, **self._call_options())
        except HttpResponseError as exc:
            if exc.status_code == 400:
                return "endpoint reachable and credentials accepted (the probe event was refused as intended)"
            raise
        return "endpoint reachable and credentials accepted (warning: the topic accepted the probe event)"
