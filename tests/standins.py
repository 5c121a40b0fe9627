"""Local stand-ins that speak each cloud's real protocol, so the real SDKs are under test.

- EventBridge: moto's threaded server (HTTP, the real AWS wire format).
- Pub/Sub: a gRPC server for `google.pubsub.v1.Publisher` built from grpcio's generic
  handlers and the `google.pubsub_v1` message types; it records what it receives and can
  inject gRPC errors.
- Event Grid: an HTTP sink that records each request and answers with queued responses.
"""

import collections
import itertools
import json
import socket
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
from google.pubsub_v1 import types as pubsub_types


def free_port() -> int:
    """An unused TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """moto's ThreadedMotoServer on a free loopback port."""

    def __init__(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def client(self, service: str) -> Any:
        """A boto3 client for this server (any credentials are accepted)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        self._server.stop()


@dataclass
class PublishedMessage:
    topic: str
    data: bytes
    attributes: dict[str, str]
    ordering_key: str
    message_id: str


@dataclass
class PubSubStandIn:
    """A Pub/Sub Publisher service on loopback, reached through PUBSUB_EMULATOR_HOST."""

    topics: set[str] = field(default_factory=set)
    messages: list[PublishedMessage] = field(default_factory=list)
    #: Errors for the next Publish calls, one per call.
    fail_next: collections.deque = field(default_factory=collections.deque)
    #: An error for every Publish call until cleared.
    fail_always: grpc.StatusCode | None = None
    publish_calls: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(10**15)
        self._lock = threading.Lock()
        handlers = {
            "CreateTopic": grpc.unary_unary_rpc_method_handler(
                self._create_topic, pubsub_types.Topic.deserialize, pubsub_types.Topic.serialize
            ),
            "GetTopic": grpc.unary_unary_rpc_method_handler(
                self._get_topic, pubsub_types.GetTopicRequest.deserialize, pubsub_types.Topic.serialize
            ),
            "Publish": grpc.unary_unary_rpc_method_handler(
                self._publish, pubsub_types.PublishRequest.deserialize, pubsub_types.PublishResponse.serialize
            ),
        }
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("google.pubsub.v1.Publisher", handlers),)
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.host = f"127.0.0.1:{self.port}"
        self._server.start()

    def _create_topic(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.topics.add(request.name)
        return pubsub_types.Topic(name=request.name)

    def _get_topic(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.topic not in self.topics:
            context.abort(grpc.StatusCode.NOT_FOUND, "Topic not found")
        return pubsub_types.Topic(name=request.topic)

    def _publish(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.publish_calls += 1
            fault = self.fail_next.popleft() if self.fail_next else self.fail_always
        if fault is not None:
            context.abort(fault, f"injected {fault.name}")
        if request.topic not in self.topics:
            context.abort(grpc.StatusCode.NOT_FOUND, "Topic not found")
        ids = []
        with self._lock:
            for message in request.messages:
                message_id = str(next(self._ids))
                self.messages.append(
                    PublishedMessage(
                        request.topic, message.data, dict(message.attributes), message.ordering_key, message_id
                    )
                )
                ids.append(message_id)
        return pubsub_types.PublishResponse(message_ids=ids)

    def stop(self) -> None:
        self._server.stop(grace=None)


@dataclass
class SinkRequest:
    client_port: int
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


CLOUDEVENT_FIELDS = {"id", "source", "specversion", "type"}
EVENTGRID_FIELDS = {"id", "eventType", "subject", "eventTime", "data", "dataVersion"}


class EventGridSink:
    """An HTTP server standing in for an Event Grid topic endpoint."""

    def __init__(self) -> None:
        self.requests: list[SinkRequest] = []
        #: (status, headers) for the next requests; 200 when empty.
        self.responses: collections.deque[tuple[int, dict[str, str]]] = collections.deque()
        #: A status for every request until cleared (an outage).
        self.fail_always: int | None = None
        #: Seconds to wait before answering (a slow endpoint).
        self.delay_seconds = 0.0
        #: Client ports of requests received and not yet answered.
        self.in_flight: set[int] = set()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                url = urlsplit(self.path)
                sink.requests.append(
                    SinkRequest(
                        self.client_address[1],
                        url.path,
                        parse_qs(url.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                sink.in_flight.add(self.client_address[1])
                if sink.delay_seconds:
                    time.sleep(sink.delay_seconds)
                if sink.responses:
                    status, headers = sink.responses.popleft()
                elif sink.fail_always:
                    status, headers = sink.fail_always, {}
                else:
                    status, headers = sink.validate(body, self.headers), {}
                payload = b"" if status == 200 else json.dumps({"error": {"code": str(status)}}).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                sink.in_flight.discard(self.client_address[1])

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/api/events"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def validate(body: bytes, headers: Any) -> int:
        """Like Event Grid: 400 unless every event has its schema's required fields."""
        cloudevents = headers.get("Content-Type", "").startswith("application/cloudevents-batch+json")
        required = CLOUDEVENT_FIELDS if cloudevents else EVENTGRID_FIELDS
        try:
            events = json.loads(body)
        except ValueError:
            return 400
        valid = (
            isinstance(events, list) and events and all(isinstance(e, dict) and required <= e.keys() for e in events)
        )
        return 200 if valid else 400

    def events(self) -> list[dict[str, Any]]:
        """Every event received, across requests, in order."""
        return [event for request in self.requests for event in request.json()]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
