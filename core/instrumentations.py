"""The official OpenTelemetry instrumentations HELIOS turns on with tracing, beside its own spans:
- `django`: a server span per request, continuing the caller's W3C `traceparent` (HELIOS's
  `accept`, `publish`… spans are its children). Probes and static files are left out unless
  `OTEL_PYTHON_DJANGO_EXCLUDED_URLS` says otherwise; query strings are kept as names only (a
  receiver's `?token=` is a secret).
- `psycopg`: a span per SQL statement on PostgreSQL;
- `botocore`: a span per AWS call (EventBridge `PutEvents`, the pull round trip's SQS).
SQL and AWS spans are recorded only inside another span (a request, a send, a run): a worker's
housekeeping queries never become traces of their own. In a worker the instrumentations are
quiet outside HELIOS's spans (`quiet_outside_spans`): an instrumentation does its work for a span
even when the span is then dropped (≈ 30 µs more per SQL statement, measured), and a worker's
claims and records are most of its statements.

`OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` (comma-separated names, as OpenTelemetry's own
auto-instrumentation reads it) leaves any of them off. gRPC is not instrumented: the Pub/Sub
publisher calls the cloud from its own batch thread, where no span is current, so each call would
be a trace of its own (HELIOS's `send` span already times it and carries the cloud's answer).
"""

import importlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest
from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span

#: Name → the instrumentor's "module:class", in the order they are turned on.
INSTRUMENTATIONS = {
    "django": "opentelemetry.instrumentation.django:DjangoInstrumentor",
    "psycopg": "opentelemetry.instrumentation.psycopg:PsycopgInstrumentor",
    "botocore": "opentelemetry.instrumentation.botocore:BotocoreInstrumentor",
}
#: Requests not traced unless OTEL_PYTHON_DJANGO_EXCLUDED_URLS names others: probes and files.
DEFAULT_EXCLUDED_URLS = "/healthz,/readyz,/metrics,/static/,/favicon.ico"
#: What a query string's values become in a span.
HIDDEN = "[hidden]"
#: Attributes the WSGI instrumentation fills with the request's query string.
_URL_ATTRIBUTES = ("http.target", "http.url", "url.full")

_on: list[BaseInstrumentor] = []


def chosen(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The instrumentations to turn on (all but those OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names)."""
    disabled = {name.strip() for name in environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    return [name for name in INSTRUMENTATIONS if name not in disabled]


def turn_on(provider: TracerProvider, processors: list[SpanProcessor]) -> list[str]:
    """Turn the chosen instrumentations on, exporting through `processors`; their names."""
    # Inside another span only: a root span of theirs is never sampled.
    children_only = TracerProvider(resource=provider.resource, sampler=ParentBased(root=ALWAYS_OFF))
    for processor in processors:
        children_only.add_span_processor(processor)
    # The stable HTTP conventions (http.request.method, url.path…), as HELIOS's own spans use,
    # unless the deployment chose otherwise.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    names = chosen()
    for name in names:
        module, _, cls = INSTRUMENTATIONS[name].partition(":")
        instrumentor: BaseInstrumentor = getattr(importlib.import_module(module), cls)()
        if name == "django":
            excluded = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS)
            instrumentor.instrument(tracer_provider=provider, excluded_urls=excluded, request_hook=_hide_query_values)
        else:
            instrumentor.instrument(tracer_provider=children_only)
        _on.append(instrumentor)
    return names


def turn_off() -> None:
    """Turn every instrumentation this process turned on off again."""
    while _on:
        _on.pop().uninstrument()


def quiet_outside_spans() -> None:
    """From now on in this thread, the instrumentations do nothing outside a HELIOS span (the
    context OpenTelemetry's instrumentations all consult says they are suppressed)."""
    context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))


@contextmanager
def heard() -> Iterator[None]:
    """Inside the block the instrumentations record, even where they are quiet outside spans."""
    if not context.get_value(_SUPPRESS_INSTRUMENTATION_KEY):
        yield
        return
    token = context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, False))
    try:
        yield
    finally:
        context.detach(token)


def hidden_query(url: str) -> str:
    """`url` with each query parameter's value hidden (the names stay)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = urlencode([(name, HIDDEN) for name, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="[]")
    return urlunsplit(parts._replace(query=query))


def _hide_query_values(span: Span, request: HttpRequest) -> None:
    if not span.is_recording() or not request.META.get("QUERY_STRING"):
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        if isinstance(value := attributes.get(name), str):
            span.set_attribute(name, hidden_query(value))
    if "url.query" in attributes:
        span.set_attribute("url.query", urlsplit(hidden_query("?" + request.META["QUERY_STRING"])).query)
