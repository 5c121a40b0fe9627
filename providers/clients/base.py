"""The shared publish flow every provider client follows, demo or real.

A client gets plain values (`OutgoingEvent`) and returns plain values (`PublishResult`),
one per event, in the order given. It never sees a Django model.

Flow (template method, `ProviderClient.publish`):
    build the provider's payload → check the provider's limits → split into batches the
    provider accepts → send each batch → one result per event.
What a provider sends and how it counts sizes lives in its `PayloadFormat`; how a batch is
sent (simulated or through the SDK) lives in the client subclass.
"""

from __future__ import annotations

import enum
import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from .jsonsize import compact_json
from .lazy_sdk import HoldsSdk, SdkMissing

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    """How one publish attempt of one event ended."""

    SUCCEEDED = "succeeded"
    RETRYABLE_ERROR = "retryable_error"
    PERMANENT_ERROR = "permanent_error"


@dataclass(frozen=True)
class OutgoingEvent:
    """One event to publish: the CloudEvents core attributes plus JSON data."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: dict[str, Any]
    #: The W3C trace context of the span that created the event ("" when it was not traced):
    #: each kind carries it in its cloud's own place (the CloudEvents distributed-tracing
    #: extension).
    traceparent: str = ""
    tracestate: str = ""

    @functools.cached_property
    def data_json(self) -> str:
        """The data as compact JSON: serialized once, whatever number of payloads carry it."""
        return compact_json(self.data)

    def trace_extension(self) -> dict[str, str]:
        """The CloudEvents distributed-tracing extension attributes the event carries ({} when none)."""
        extension = {"traceparent": self.traceparent} if self.traceparent else {}
        if self.traceparent and self.tracestate:
            extension["tracestate"] = self.tracestate
        return extension

    def as_cloudevent(self) -> dict[str, Any]:
        """The event as a CloudEvent 1.0 in its JSON format (structured mode)."""
        body: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "datacontenttype": "application/json",
            "data": self.data,
        }
        if self.subject:
            body["subject"] = self.subject
        body.update(self.trace_extension())
        return body


@dataclass(frozen=True)
class PublishResult:
    """What happened to one event in one publish call."""

    event_id: str
    outcome: Outcome
    message_id: str = ""
    error_code: str = ""
    error_message: str = ""
    status_code: int | None = None
    #: The provider's own hint (Retry-After) for when to try again, in seconds.
    retry_after_seconds: float | None = None
    #: What the provider answered for this event, as it said it (JSON or text; not redacted).
    response: str = ""
    #: What was sent for this event, as the provider received it (JSON-ready; set by `publish`).
    sent: Any = None

    @property
    def ok(self) -> bool:
        """True when the provider accepted the event."""
        return self.outcome is Outcome.SUCCEEDED


@dataclass(frozen=True)
class ClientSettings:
    """Plain per-config values a client needs; built from a provider config.

    `credentials` is the SDK material from `providers.credentials` (production only); it is
    kept out of repr so it cannot reach a log line by accident.
    """

    name: str
    kind: str
    options: dict[str, Any]
    demo_failure_rate: float = 0.0
    demo_latency_ms: int = 0
    timeout_seconds: float = 10.0
    credentials: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Payload:
    """A provider payload for one event and its size as the provider counts it."""

    event_id: str
    body: dict[str, Any]
    size: int


@dataclass(frozen=True)
class ErrorClass:
    """One row of a provider's error table: retryable or not, and what it means in words."""

    retryable: bool
    explanation: str

    def result(
        self,
        event_id: str,
        *,
        code: str,
        detail: str = "",
        status_code: int | None = None,
        retry_after_seconds: float | None = None,
        response: str = "",
    ) -> PublishResult:
        """The PublishResult for one event that hit this error."""
        message = f"{self.explanation} ({detail})" if detail else self.explanation
        return PublishResult(
            event_id=event_id,
            outcome=Outcome.RETRYABLE_ERROR if self.retryable else Outcome.PERMANENT_ERROR,
            error_code=code,
            error_message=message,
            status_code=status_code,
            retry_after_seconds=retry_after_seconds,
            response=response,
        )


@dataclass(frozen=True)
class SdkFailure:
    """An SDK exception classified: its error class, code, detail and HTTP/gRPC status."""

    error_class: ErrorClass
    code: str
    detail: str = ""
    status_code: int | None = None
    retry_after_seconds: float | None = None

    def result(self, event_id: str, *, response: str = "") -> PublishResult:
        """The PublishResult for one event of a batch that failed this way (`response`: the
        provider's answer, e.g. `exception_text` of the SDK's exception)."""
        return self.error_class.result(
            event_id,
            code=self.code,
            detail=self.detail,
            status_code=self.status_code,
            retry_after_seconds=self.retry_after_seconds,
            response=response,
        )

    def describe(self) -> str:
        """One sentence for the operator, with the provider's code."""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.code}: {self.error_class.explanation}{detail}"


def exception_text(exc: BaseException) -> str:
    """An SDK exception as the provider's answer: its type and what it says (status, body)."""
    return f"{type(exc).__name__}: {exc}"


def not_sent_after(failure: PublishResult, event_id: str) -> PublishResult:
    """The result for an event left unsent because an earlier batch of the same call failed."""
    return PublishResult(
        event_id=event_id,
        outcome=Outcome.RETRYABLE_ERROR,
        error_code=failure.error_code,
        error_message=f"Not sent: an earlier batch of this send failed ({failure.error_message})",
        retry_after_seconds=failure.retry_after_seconds,
    )


class PayloadFormat(ABC):
    """What one kind of provider receives, and the limits it enforces."""

    #: Most events one provider call accepts.
    max_batch_events: ClassVar[int]
    #: Error code and text the demo client reports for a rehearsed, retryable failure.
    simulated_failure: ClassVar[tuple[str, str]]

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @property
    @abstractmethod
    def max_batch_bytes(self) -> int:
        """Largest request, in the provider's own byte count."""

    @abstractmethod
    def build(self, event: OutgoingEvent) -> Payload:
        """The provider payload for one event."""

    @abstractmethod
    def problems(self, payload: Payload) -> list[str]:
        """Every limit the payload breaks, each as a sentence for an operator."""

    @abstractmethod
    def new_message_id(self, event: OutgoingEvent) -> str:
        """A message id in the provider's own format (used by the demo client)."""

    @abstractmethod
    def measure(self, payload: Payload) -> tuple[int, int]:
        """The event's size as the provider counts it, and the provider's limit for it."""

    def preview(self, payload: Payload) -> dict[str, Any]:
        """What the provider receives, as JSON-ready values (for the compose preview)."""
        return payload.body

    def batches(self, payloads: Sequence[Payload]) -> Iterator[list[Payload]]:
        """Split payloads, in order, into batches within the count and byte limits."""
        batch: list[Payload] = []
        batch_bytes = 0
        for payload in payloads:
            full = len(batch) >= self.max_batch_events
            too_big = batch_bytes + payload.size > self.max_batch_bytes
            if batch and (full or too_big):
                yield batch
                batch, batch_bytes = [], 0
            batch.append(payload)
            batch_bytes += payload.size
        if batch:
            yield batch


class ProviderClient(ABC):
    """Owns the publish flow; subclasses only say how one batch is sent."""

    #: "demo" or "production": what this client really does.
    mode: ClassVar[str]

    def __init__(self, settings: ClientSettings, payload_format: PayloadFormat) -> None:
        self.settings = settings
        self.format = payload_format

    def publish(
        self, events: Sequence[OutgoingEvent], *, after_batch: Callable[[], None] | None = None
    ) -> list[PublishResult]:
        """Publish events; return one result per event, in the order given.

        `after_batch` is called after each provider call (the caller renews its lease there).
        """
        results: dict[str, PublishResult] = {}
        sendable: list[Payload] = []
        by_id = {event.id: event for event in events}
        for event in events:
            payload = self.format.build(event)
            problems = self.format.problems(payload)
            if problems:
                results[event.id] = PublishResult(
                    event_id=event.id,
                    outcome=Outcome.PERMANENT_ERROR,
                    error_code="PayloadRejected",
                    error_message=" ".join(problems),
                )
            else:
                sendable.append(payload)
        failed_batch: PublishResult | None = None
        for batch in self.format.batches(sendable):
            batch_events = [by_id[payload.event_id] for payload in batch]
            sent = failed_batch is None
            if not sent:
                # The provider just failed a whole batch: do not hammer it with the rest.
                batch_results = [not_sent_after(failed_batch, event.id) for event in batch_events]
            else:
                try:
                    batch_results = self.send_batch(batch_events, batch)
                except Exception as exc:  # an outcome must be recorded, whatever broke
                    logger.exception("provider %s: batch send raised", self.settings.name)
                    batch_results = [self.unexpected_error(event, exc) for event in batch_events]
                if after_batch is not None:
                    after_batch()
                if all(r.outcome is Outcome.RETRYABLE_ERROR for r in batch_results):
                    failed_batch = batch_results[0]
            for payload, result in zip(batch, batch_results, strict=True):
                results[result.event_id] = replace(result, sent=self.format.preview(payload)) if sent else result
        return [results[event.id] for event in events]

    def unexpected_error(self, event: OutgoingEvent, exc: Exception) -> PublishResult:
        """The result for an error no classification table knows: retryable, named by type
        (a missing SDK says so in words)."""
        if isinstance(exc, SdkMissing):
            return PublishResult(
                event_id=event.id, outcome=Outcome.RETRYABLE_ERROR, error_code="SdkMissing", error_message=str(exc)
            )
        return PublishResult(
            event_id=event.id,
            outcome=Outcome.RETRYABLE_ERROR,
            error_code=type(exc).__name__,
            error_message=(
                f"Unexpected {type(exc).__name__} while sending to {self.settings.name}; "
                "HELIOS will retry. The worker log has the details."
            ),
            response=exception_text(exc),
        )

    @abstractmethod
    def send_batch(self, events: Sequence[OutgoingEvent], payloads: Sequence[Payload]) -> list[PublishResult]:
        """Send one batch within the provider's limits; one result per payload."""

    def check_connection(self) -> str:
        """Prove the provider is reachable with these credentials; return what was proven."""
        raise NotImplementedError(f"{type(self).__name__} has no connection test")

    def classify_exception(self, exc: Exception) -> SdkFailure:
        """What an SDK exception means; the production clients refine this."""
        return SdkFailure(ErrorClass(True, "Unexpected error while talking to the provider."), type(exc).__name__)

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release network resources (nothing by default)."""


class SdkClient(HoldsSdk, ProviderClient):
    """A production client: the cloud SDK's client is created on first use, reused, closed once."""

    mode = "production"

    def __init__(self, settings: ClientSettings, payload_format: PayloadFormat) -> None:
        super().__init__(settings, payload_format)
        self.hold_sdk(settings.name)
