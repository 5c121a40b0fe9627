"""An OTLP/HTTP trace receiver for tests: it speaks the protocol (POST /v1/traces, a protobuf
ExportTraceServiceRequest, decoded with opentelemetry-proto) and keeps every span it got.

Requests are decoded when the spans are read, not as they arrive: a bench's receiver shares its
process (and the GIL) with the clouds' stand-ins, and decoding there would slow the clouds down,
not HELIOS."""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it (ids in hex, attributes as Python values)."""

    service: str
    #: The instrumentation scope: "helios" for HELIOS's own spans, else the library's.
    scope: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    links: list[tuple[str, str, dict[str, Any]]]
    events: list[tuple[str, dict[str, Any]]]


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, which) if which else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _decoded(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest.FromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        service = _attributes(resource_spans.resource.attributes).get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=service,
                        scope=scope_spans.scope.name,
                        name=span.name,
                        kind=span.kind,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes=_attributes(span.attributes),
                        links=[
                            (link.trace_id.hex(), link.span_id.hex(), _attributes(link.attributes))
                            for link in span.links
                        ],
                        events=[(event.name, _attributes(event.attributes)) for event in span.events],
                    )
                )
    return spans


class OtlpReceiver:
    """Listens on 127.0.0.1; `endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT names."""

    def __init__(self) -> None:
        self.content_types: list[str] = []
        self._bodies: list[bytes] = []
        self._spans: list[ReceivedSpan] = []
        self._decoded = 0
        self._lock = threading.Lock()
        bodies, content_types = self._bodies, self.content_types

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                content_types.append(self.headers.get("Content-Type", ""))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                bodies.append(body)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in the order the requests came."""
        with self._lock:
            while self._decoded < len(self._bodies):
                self._spans += _decoded(self._bodies[self._decoded])
                self._decoded += 1
            return list(self._spans)

    def named(self, name: str) -> list[ReceivedSpan]:
        """The spans received with this name."""
        return [span for span in self.spans if span.name == name]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
