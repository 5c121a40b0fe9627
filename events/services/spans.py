"""HELIOS's spans of messages (OpenTelemetry's messaging conventions), each linked to the span
that created each event, and a child of it when the whole batch comes from one trace, so one
trace shows request → HELIOS → cloud → back:
- `send <config>` (PRODUCER) around a provider call, with the cloud's answer for each event as a
  span event (message id, or error code);
- `process <config>` (CONSUMER) for a batch of arrivals (push or pull) recorded as receipts."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from core import tracing
from providers.clients.base import OutgoingEvent, PublishResult
from providers.kinds import spec_for
from providers.models import ProviderConfig

#: Links per span (the SDK keeps 128 by default): a batch's first events.
MAX_LINKS = 100


@contextmanager
def send_span(config: ProviderConfig, mode: str, events: Sequence[OutgoingEvent]) -> Iterator[Span]:
    """The span of sending `events` to `config` in `mode` (a non-recording one while tracing is off)."""
    if not tracing.enabled():
        with nullcontext(trace.INVALID_SPAN) as off:
            yield off
        return
    spec = spec_for(config.kind)
    attributes: dict[str, str | int] = {
        "messaging.system": spec.messaging_system,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": spec.describe_target(config.options()),
        "messaging.batch.message_count": len(events),
        "helios.provider": config.name,
        "helios.mode": mode,
    }
    if len(events) == 1:
        attributes["helios.event.id"] = events[0].id
    contexts = [(event.id, event.traceparent, event.tracestate) for event in events]
    links, parent = _joined(contexts)
    with tracing.span(
        f"send {config.name}", kind=SpanKind.PRODUCER, context=parent, links=links, attributes=attributes
    ) as current:
        yield current


def receive_span(
    config: ProviderConfig, operation: str, arrivals: int, contexts: Sequence[tuple[str, str, str]], *, started_ns: int
) -> None:
    """The span of recording `arrivals` that came back to `config` by `operation` (push, pull, demo),
    from `started_ns` to now; `contexts`: (event id, traceparent, tracestate) of the HELIOS
    events among them."""
    if not tracing.enabled():
        return
    links, parent = _joined(contexts)
    attributes: dict[str, str | int] = {
        "messaging.system": spec_for(config.kind).messaging_system,
        "messaging.operation.type": "process",
        "messaging.operation.name": operation,
        "messaging.batch.message_count": arrivals,
        "helios.provider": config.name,
    }
    if len(contexts) == 1:
        attributes["helios.event.id"] = contexts[0][0]
    span = tracing.tracer().start_span(
        f"process {config.name}",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=links,
        attributes=attributes,
        start_time=started_ns,
    )
    span.end()


def _joined(contexts: Sequence[tuple[str, str, str]]) -> tuple[list[Link], Context | None]:
    """Links to the events' creation spans (the first MAX_LINKS), and the parent: that span's
    context when every event comes from one trace."""
    links = [
        link
        for event_id, traceparent, tracestate in contexts[:MAX_LINKS]
        if (link := tracing.link_to(traceparent, tracestate, **{"helios.event.id": event_id}))
    ]
    traces = {traceparent[3:35] for _, traceparent, _ in contexts}
    parent = tracing.context_of(contexts[0][1], contexts[0][2]) if len(traces) == 1 and contexts else None
    return links, parent


def record_answers(span: Span, results: Sequence[PublishResult]) -> None:
    """The cloud's answer for each event on the send span: its message id or its error."""
    if not span.is_recording():
        return
    for result in results:
        answer = {"helios.event.id": result.event_id}
        if result.message_id:
            answer["messaging.message.id"] = result.message_id
        if result.error_code:
            answer["error.type"] = result.error_code
        span.add_event("answer", attributes=answer)
    if len(results) == 1 and results[0].message_id:
        span.set_attribute("messaging.message.id", results[0].message_id)
    failed = [result for result in results if not result.ok]
    if failed:
        span.set_attribute("error.type", failed[0].error_code or "error")
        span.set_status(Status(StatusCode.ERROR, f"{len(failed)} of {len(results)} not accepted"))
