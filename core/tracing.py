"""OpenTelemetry traces, configured only by the standard OTEL_* environment variables.

Off unless `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`; `none` is off) or an
OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`:
then `otlp`), and `OTEL_SDK_DISABLED` is not `true`. Off, `tracer()` is the API's no-op tracer:
a span costs a function call and records nothing. On, spans go through a batch processor (its
thread is remade after a fork, so worker processes export too) to OTLP over HTTP/protobuf;
`OTEL_SERVICE_NAME` (default "helios"), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and
the OTLP exporter's own variables apply as the SDK documents them. With tracing, the official
Django, psycopg and botocore instrumentations are turned on (`instrumentations`).

An event's trace context is the W3C `traceparent` / `tracestate` of the span that created it
(`current_context`), kept on the event and carried through the clouds as the CloudEvents
distributed-tracing extension, so spans that send it or receive it back join its trace.
"""

import functools
import logging
import multiprocessing.util
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import instrumentations

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

#: The instrumentation scope of HELIOS's own spans.
SCOPE = "helios"
_W3C = TraceContextTextMapPropagator()
_NO_OP = trace.NoOpTracer()
_provider: TracerProvider | None = None


def exporter_names(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The trace exporters the environment asks for ([] when tracing is off)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if not names and (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = ["otlp"]
    return [name for name in names if name != "none"]


def configure() -> bool:
    """Set this process's tracing up from the environment (again: the previous setup is flushed
    and replaced); whether tracing is on."""
    global _provider
    if _provider is not None:
        instrumentations.turn_off()
        _provider.shutdown()
        _provider = None
    names = exporter_names()
    exporters = [exporter for name in names if (exporter := _exporter(name)) is not None]
    if not exporters:
        return False
    defaults = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "helios"}
    provider = TracerProvider(resource=Resource.create(defaults))
    processors: list[SpanProcessor] = [BatchSpanProcessor(exporter) for exporter in exporters]
    for processor in processors:
        provider.add_span_processor(processor)
    _provider = provider
    instrumented = instrumentations.turn_on(provider, processors)
    logger.info(
        "tracing on: exporting spans to %s; instrumented: %s", ", ".join(names), ", ".join(instrumented) or "nothing"
    )
    return True


def set_workers_up() -> None:
    """While tracing, prepare each django-q2 worker as it starts:
    - it exports the spans it still holds when it ends (stopped, recycled): a worker process ends
      without exit handlers, so spans still waiting in the batch would be lost. Until then the
      batch's own thread exports them on its schedule;
    - its instrumentations work inside HELIOS's spans only (`instrumentations.quiet_outside_spans`):
      its claims and records are SQL no trace shows."""
    if _provider is None:
        return
    from django_q.signals import post_spawn

    post_spawn.connect(_set_worker_up, dispatch_uid="helios_tracing_worker")


def _set_worker_up(sender: object = None, **kwargs: object) -> None:
    if multiprocessing.parent_process() is None:
        # A task run in this very process (django-q2's sync mode sends the signal for each task):
        # not a worker of its own, so neither quiet nor a finalizer per task.
        return
    # multiprocessing runs its finalizers when a child's run() returns, before os._exit
    multiprocessing.util.Finalize(None, flush, exitpriority=10)
    instrumentations.quiet_outside_spans()


def flush(timeout_millis: int = 5000) -> None:
    """Export the spans ended so far (at the end of a task, a command, a test)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis)


def enabled() -> bool:
    """Whether this process traces (an exporter is configured)."""
    return _provider is not None


def tracer() -> trace.Tracer:
    """HELIOS's tracer: the configured one, else the no-op tracer."""
    return _provider.get_tracer(SCOPE) if _provider is not None else _NO_OP


def current_context() -> dict[str, str]:
    """The current span's W3C trace context (`traceparent`, and `tracestate` when it has one);
    {} when nothing is being traced."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        _W3C.inject(carrier)
    return carrier


def traceparent_of(span: Span) -> str:
    """The W3C `traceparent` naming `span` ("" for a span nothing records: tracing off, or not
    sampled)."""
    if not span.is_recording():
        return ""
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def context_of(traceparent: str, tracestate: str = "") -> Context | None:
    """The context an event's stored trace context names; None when it names none."""
    named = _span_context(traceparent, tracestate)
    return trace.set_span_in_context(trace.NonRecordingSpan(named), Context()) if named else None


def link_to(traceparent: str, tracestate: str = "", **attributes: str) -> Link | None:
    """A link to the span an event's stored trace context names (None when it names none)."""
    named = _span_context(traceparent, tracestate)
    return Link(named, attributes=attributes or None) if named else None


@functools.lru_cache(maxsize=1024)
def _span_context(traceparent: str, tracestate: str) -> trace.SpanContext | None:
    # Events of one request or one batch share their context: parsed once (SpanContext is immutable).
    if not traceparent:
        return None
    extracted = _W3C.extract({"traceparent": traceparent, "tracestate": tracestate})
    named = trace.get_current_span(extracted).get_span_context()
    return named if named.is_valid else None


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: Context | None = None,
    links: list[Link] | None = None,
    attributes: Mapping[str, object] | None = None,
) -> Iterator[Span]:
    """A span of HELIOS's, current inside the block; an exception is recorded on it. The
    instrumentations record inside it, even where they are quiet outside spans."""
    with (
        tracer().start_as_current_span(
            name,
            context=context,
            kind=kind,
            links=links,
            attributes=attributes,  # type: ignore[arg-type]
        ) as current,
        instrumentations.heard(),
    ):
        yield current


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function in a span of this name (a way in or a run: replay, healing,
    reconciliation)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(name):
                return function(*args, **kwargs)

        return run

    return decorate


def annotate(**attributes: str | int) -> None:
    """Attributes for the current span (`helios.provider="orders-aws"` is written
    helios_provider="orders-aws": underscores after the first become dots)."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes({name.replace("_", ".", 1): value for name, value in attributes.items()})


def _exporter(name: str) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        if protocol and protocol != "http/protobuf":
            logger.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s: HELIOS exports OTLP over http/protobuf only", protocol)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    logger.warning("OTEL_TRACES_EXPORTER names %r, which HELIOS does not ship (otlp, console, none): ignored", name)
    return None
