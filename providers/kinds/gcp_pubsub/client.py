"""GCP Pub/Sub: one message per event, CloudEvents attributes, and Pub/Sub's limits.

Messages follow the CloudEvents Pub/Sub binding in binary mode: data is the event's JSON
data, attributes carry `ce-id` (the HELIOS event id), `ce-type`, `ce-source`,
`ce-specversion`, `ce-time` and, when set, `ce-subject` and the distributed-tracing extension
(`ce-traceparent`, `ce-tracestate`).
"""

import concurrent.futures
import json
import random
import time
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

MAX_DATA_BYTES = 10_000_000
MAX_REQUEST_BYTES = 10_000_000
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_KEY_BYTES = 256
MAX_ATTRIBUTE_VALUE_BYTES = 1024


class PubSubFormat(PayloadFormat):
    """Pub/Sub messages: at most 1,000 and 10,000,000 bytes per publish request."""

    max_batch_events: ClassVar[int] = 1000
    simulated_failure = ("UNAVAILABLE", "The service is currently unavailable (simulated by demo mode).")

    @property
    def max_batch_bytes(self) -> int:
        """Pub/Sub's publish request limit."""
        return MAX_REQUEST_BYTES

    def build(self, event: OutgoingEvent) -> Payload:
        """The message data and attributes for one event."""
        data = event.data_json.encode("utf-8")
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
        attributes.update({f"ce-{name}": value for name, value in event.trace_extension().items()})
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

    def measure(self, payload: Payload) -> tuple[int, int]:
        """Data plus attributes against the 10 MB a message (and a request) may carry."""
        return payload.size, MAX_REQUEST_BYTES

    def preview(self, payload: Payload) -> dict[str, Any]:
        """The message: data as the UTF-8 text it encodes, and its attributes."""
        return {"data": payload.body["data"].decode("utf-8"), "attributes": payload.body["attributes"]}


#: gRPC status / api_core exception name → retryable?, meaning.
PUBSUB_ERRORS: dict[str, ErrorClass] = {
    "UNAVAILABLE": ErrorClass(True, "Pub/Sub was unavailable."),
    "DEADLINE_EXCEEDED": ErrorClass(True, "Pub/Sub did not answer in time."),
    "RESOURCE_EXHAUSTED": ErrorClass(True, "Pub/Sub quota exhausted (throttled)."),
    "INTERNAL": ErrorClass(True, "Pub/Sub had an internal error."),
    "ABORTED": ErrorClass(True, "Pub/Sub aborted the request."),
    "CANCELLED": ErrorClass(True, "The request was cancelled."),
    "UNKNOWN": ErrorClass(True, "Pub/Sub returned an unknown error."),
    "TIMEOUT": ErrorClass(True, "No answer from Pub/Sub within the client timeout."),
    "NOT_FOUND": ErrorClass(False, "The topic does not exist in this project."),
    "PERMISSION_DENIED": ErrorClass(False, "The credentials may not publish to this topic (pubsub.topics.publish)."),
    "UNAUTHENTICATED": ErrorClass(False, "Google rejected the credentials."),
    "INVALID_ARGUMENT": ErrorClass(False, "Pub/Sub rejected the message as invalid."),
    "FAILED_PRECONDITION": ErrorClass(False, "Pub/Sub refused the request (failed precondition)."),
    "MESSAGE_TOO_LARGE": ErrorClass(False, "The message is larger than Pub/Sub accepts."),
}


def classify_pubsub_exception(exc: BaseException) -> SdkFailure:
    """What a google-cloud-pubsub exception means, by its gRPC status."""
    from google.api_core import exceptions as gexc
    from google.cloud.pubsub_v1.publisher.exceptions import MessageTooLargeError

    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        failure = classify_pubsub_exception(exc.cause)
        return SdkFailure(failure.error_class, failure.code, "retries exhausted within the client's bound")
    if isinstance(exc, MessageTooLargeError):
        return SdkFailure(PUBSUB_ERRORS["MESSAGE_TOO_LARGE"], "MESSAGE_TOO_LARGE", str(exc)[:200])
    if isinstance(exc, TimeoutError | concurrent.futures.TimeoutError):
        return SdkFailure(PUBSUB_ERRORS["TIMEOUT"], "TIMEOUT")
    if isinstance(exc, gexc.GoogleAPICallError):
        code = exc.grpc_status_code.name if exc.grpc_status_code is not None else "UNKNOWN"
        error_class = PUBSUB_ERRORS.get(code, ErrorClass(True, f"Pub/Sub returned {code}."))
        status = exc.grpc_status_code.value[0] if exc.grpc_status_code is not None else None
        return SdkFailure(error_class, code, exc.message[:300] if exc.message else "", status)
    return SdkFailure(ErrorClass(True, "Unexpected error from the Pub/Sub client."), type(exc).__name__)


class PubSubClient(SdkClient):
    """google-cloud-pubsub `PublisherClient` with batching on and bounded retries."""

    @property
    def topic_path(self) -> str:
        """projects/<project>/topics/<topic>."""
        return f"projects/{self.settings.options['project']}/topics/{self.settings.options['topic']}"

    def make_sdk(self) -> Any:
        """The PublisherClient: batching on, ordering when configured, emulator when set."""
        import grpc
        from google.cloud import pubsub_v1
        from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

        batch = pubsub_v1.types.BatchSettings(max_messages=100, max_bytes=MAX_REQUEST_BYTES - 100_000, max_latency=0.01)
        options = pubsub_v1.types.PublisherOptions(
            enable_message_ordering=bool(self.settings.options.get("ordering_by_subject")),
        )
        emulator = self.settings.credentials.get("emulator_host")
        if emulator:
            transport = PublisherGrpcTransport(channel=grpc.insecure_channel(emulator), host=emulator)
            return pubsub_v1.PublisherClient(batch_settings=batch, publisher_options=options, transport=transport)
        return pubsub_v1.PublisherClient(
            batch_settings=batch, publisher_options=options, credentials=self.settings.credentials.get("credentials")
        )

    def _retry(self) -> Any:
        """The SDK's retry, bounded by the client timeout (its default keeps going for 600 s)."""
        from google.api_core import exceptions as gexc
        from google.api_core.retry import Retry, if_exception_type

        return Retry(
            predicate=if_exception_type(
                gexc.Aborted,
                gexc.Cancelled,
                gexc.DeadlineExceeded,
                gexc.InternalServerError,
                gexc.ResourceExhausted,
                gexc.ServiceUnavailable,
                gexc.Unknown,
            ),
            initial=0.1,
            multiplier=2.0,
            maximum=2.0,
            timeout=self.settings.timeout_seconds,
        )

    def send_batch(self, events: Sequence[OutgoingEvent], payloads: Sequence[Payload]) -> list[PublishResult]:
        """Publish every message (the SDK batches them), then wait for each future."""
        retry = self._retry()
        ordering = bool(self.settings.options.get("ordering_by_subject"))
        futures = []
        for event, payload in zip(events, payloads, strict=True):
            key = event.subject if ordering else ""
            try:
                future = self.sdk.publish(
                    self.topic_path,
                    payload.body["data"],
                    ordering_key=key,
                    retry=retry,
                    timeout=self.settings.timeout_seconds,
                    **payload.body["attributes"],
                )
            except Exception as exc:  # publish() raises synchronously for size and closed clients
                future = exc
            futures.append((event, key, future))
        deadline = time.monotonic() + self.settings.timeout_seconds * 2
        results = []
        for event, key, future in futures:
            try:
                if isinstance(future, Exception):
                    raise future
                message_id = future.result(timeout=max(deadline - time.monotonic(), 0.1))
            except Exception as exc:
                results.append(classify_pubsub_exception(exc).result(event.id, response=exception_text(exc)))
                if key:
                    self.sdk.resume_publish(self.topic_path, key)
            else:
                answer = json.dumps({"messageId": message_id})
                results.append(
                    PublishResult(event_id=event.id, outcome=Outcome.SUCCEEDED, message_id=message_id, response=answer)
                )
        return results

    def classify_exception(self, exc: Exception) -> SdkFailure:
        return classify_pubsub_exception(exc)

    def check_connection(self) -> str:
        """get_topic: proves endpoint, credentials and that the topic exists (retries included,
        bounded by the client timeout: the SDK's default retry goes on for 600 s)."""
        topic = self.sdk.get_topic(topic=self.topic_path, retry=self._retry(), timeout=self.settings.timeout_seconds)
        return f"topic {topic.name} found"

    def close_sdk(self, sdk: Any) -> None:
        """Flush and stop the publisher's batching threads."""
        sdk.stop()
