"""AWS EventBridge: PutEvents entries and the limits AWS applies to them.

The HELIOS event id travels in the Detail envelope (AWS's own "metadata / data" event
design pattern): `Detail = {"metadata": {"event_id", "source", "subject"}, "data": {...}}`,
so a consumer can de-duplicate on `detail.metadata.event_id` and rules match on
`detail.data.*`; a traced event's W3C context rides there too (`detail.metadata.traceparent`,
`tracestate`). The entry's Source is the provider config's source.
"""

import json
import uuid
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
from ...clients.jsonsize import compact_json, utf8_len
from .aws import aws_client

DEFAULT_MAX_ENTRY_BYTES = 256 * 1024
#: AWS counts the Time field as 14 bytes whether or not it is sent.
TIME_FIELD_BYTES = 14
MAX_DETAIL_TYPE_CHARS = 128
MAX_SOURCE_CHARS = 256


class EventBridgeFormat(PayloadFormat):
    """PutEvents entries: at most 10 per call, each within the entry size limit."""

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
        metadata = {"event_id": event.id, "source": event.source, "subject": event.subject, **event.trace_extension()}
        # compact_json({"metadata": …, "data": …}), the data's JSON made once for every provider
        detail = f'{{"metadata":{compact_json(metadata)},"data":{event.data_json}}}'
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

    def measure(self, payload: Payload) -> tuple[int, int]:
        """AWS's entry size against the configured entry limit."""
        return payload.size, self.max_entry_bytes

    def preview(self, payload: Payload) -> dict[str, Any]:
        """The PutEvents entry (Time in ISO 8601)."""
        return {**payload.body, "Time": payload.body["Time"].isoformat()}


#: PutEvents error codes (per entry, or for the whole call) → retryable?, meaning.
EVENTBRIDGE_ERRORS: dict[str, ErrorClass] = {
    "ThrottlingException": ErrorClass(True, "EventBridge throttled the request (account or bus quota)."),
    "InternalFailure": ErrorClass(True, "EventBridge had an internal error."),
    "InternalException": ErrorClass(True, "EventBridge had an internal error."),
    "ServiceUnavailable": ErrorClass(True, "EventBridge was unavailable."),
    "MalformedDetail": ErrorClass(False, "EventBridge rejected the Detail: it is not valid JSON."),
    "InvalidArgument": ErrorClass(False, "EventBridge rejected the entry as invalid (Source, DetailType or size)."),
    "ValidationException": ErrorClass(False, "EventBridge rejected the request as invalid."),
    "ResourceNotFoundException": ErrorClass(False, "The event bus does not exist in this account and region."),
    "AccessDeniedException": ErrorClass(False, "The credentials are not allowed to call events:PutEvents here."),
    "NotAuthorizedForSourceException": ErrorClass(False, "The credentials may not publish this Source."),
    "NotAuthorizedForDetailTypeException": ErrorClass(False, "The credentials may not publish this DetailType."),
    "UnrecognizedClientException": ErrorClass(False, "AWS does not recognise the access key."),
    "InvalidSignatureException": ErrorClass(False, "AWS rejected the request signature: check the secret key."),
    "ExpiredTokenException": ErrorClass(False, "The AWS session token has expired."),
    "InvalidClientTokenId": ErrorClass(False, "AWS does not recognise the access key."),
}
UNREACHABLE = ErrorClass(True, "Could not reach EventBridge (connection failed or timed out).")
NO_CREDENTIALS = ErrorClass(False, "No usable AWS credentials.")


def classify_eventbridge_code(code: str, status_code: int | None = None) -> ErrorClass:
    """The error class for an EventBridge error code; unknown codes by HTTP status."""
    if code in EVENTBRIDGE_ERRORS:
        return EVENTBRIDGE_ERRORS[code]
    retryable = status_code is None or status_code >= 500 or status_code == 429
    return ErrorClass(retryable, f"EventBridge returned {code or 'an error'}.")


class EventBridgeClient(SdkClient):
    """boto3 `put_events`, at most 10 entries a call, per-entry results mapped back."""

    def make_sdk(self) -> Any:
        """The boto3 events client: standard retry mode, 2 attempts, bounded timeouts."""
        return aws_client(self.settings, "events", read_timeout=self.settings.timeout_seconds)

    def send_batch(self, events: Sequence[OutgoingEvent], payloads: Sequence[Payload]) -> list[PublishResult]:
        """One PutEvents call; entry i of the response answers entry i of the request."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.sdk.put_events(Entries=[payload.body for payload in payloads])
        except (ClientError, BotoCoreError) as exc:
            failure = self.classify_exception(exc)
            return [failure.result(e.id, response=exception_text(exc)) for e in events]
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        results = []
        for event, entry in zip(events, response["Entries"], strict=True):
            answer = json.dumps(
                {"HTTPStatusCode": status, "FailedEntryCount": response.get("FailedEntryCount"), **entry}
            )
            if entry.get("EventId"):
                results.append(
                    PublishResult(
                        event_id=event.id,
                        outcome=Outcome.SUCCEEDED,
                        message_id=entry["EventId"],
                        status_code=status,
                        response=answer,
                    )
                )
            else:
                code = entry.get("ErrorCode", "Unknown")
                results.append(
                    classify_eventbridge_code(code).result(
                        event.id, code=code, detail=entry.get("ErrorMessage", ""), status_code=status, response=answer
                    )
                )
        return results

    def classify_exception(self, exc: Exception) -> SdkFailure:
        """What a botocore exception means for the operator."""
        from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = error.get("Code", "ClientError")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return SdkFailure(classify_eventbridge_code(code, status), code, error.get("Message", ""), status)
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return SdkFailure(NO_CREDENTIALS, type(exc).__name__)
        return SdkFailure(UNREACHABLE, type(exc).__name__)

    def check_connection(self) -> str:
        """describe_event_bus: proves endpoint, credentials and that the bus exists."""
        bus = self.sdk.describe_event_bus(Name=self.settings.options["event_bus"])
        return f"event bus {bus['Name']} found ({bus['Arn']})"
