"""Local stand-ins that speak each cloud's real protocol, so the real SDKs are under test.

- EventBridge: moto's threaded server (HTTP, the real AWS wire format).
- Pub/Sub: a gRPC server for `google.pubsub.v1.Publisher` built from grpcio's generic
  handlers and the `google.pubsub_v1` message types; it records what it receives and can
  inject gRPC errors. It also serves `google.pubsub.v1.Subscriber` (tests/pull_standins.py).
- Event Grid: an HTTP sink that records each request and answers with queued responses.
Round trip (each cloud pushing events back to HELIOS's receivers):
- Pub/Sub: the stand-in can push every published message to a push endpoint, like a push
  subscription (optionally with an OIDC token from tests/oidc_issuer.py).
- Event Grid: the sink can forward every accepted request to a webhook, like a subscription.
- EventBridge: `relay_sqs` posts what a rule routed to SQS to an API destination.
"""

import base64
import collections
import datetime
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
from google.pubsub_v1 import types as pubsub_types

from tests.pull_standins import SubscriberService


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
    #: An error for every GetTopic call (the connection test) until cleared, and how many came.
    fail_get_topic: grpc.StatusCode | None = None
    get_topic_calls: int = 0
    publish_calls: int = 0
    #: Seconds every Publish and GetTopic call waits before answering (a slow Pub/Sub).
    delay_seconds: float = 0.0
    #: A push subscription: every published message is POSTed here (with these headers).
    push_endpoint: str | None = None
    push_subscription: str = "projects/helios-test/subscriptions/helios-roundtrip"
    push_headers: Any = None  # a callable returning headers per push, e.g. a fresh OIDC token

    def __post_init__(self) -> None:
        self._pusher = futures.ThreadPoolExecutor(max_workers=4)
        self._ids = itertools.count(10**15)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
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
        self.subscriber = SubscriberService()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("google.pubsub.v1.Publisher", handlers), self.subscriber.handlers())
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.host = f"127.0.0.1:{self.port}"
        self._server.start()

    def _create_topic(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.topics.add(request.name)
        return pubsub_types.Topic(name=request.name)

    def _get_topic(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.get_topic_calls += 1
        if self.delay_seconds:
            self._stopping.wait(self.delay_seconds)
        if self.fail_get_topic is not None:
            context.abort(self.fail_get_topic, f"injected {self.fail_get_topic.name}")
        if request.topic not in self.topics:
            context.abort(grpc.StatusCode.NOT_FOUND, "Topic not found")
        return pubsub_types.Topic(name=request.topic)

    def _publish(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.publish_calls += 1
            fault = self.fail_next.popleft() if self.fail_next else self.fail_always
        if self.delay_seconds:
            self._stopping.wait(self.delay_seconds)
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
                self.subscriber.deliver(
                    request.topic,
                    pubsub_types.PubsubMessage(
                        data=message.data,
                        attributes=dict(message.attributes),
                        message_id=message_id,
                        ordering_key=message.ordering_key,
                        publish_time=datetime.datetime.now(datetime.UTC),
                    ),
                )
                if self.push_endpoint:
                    self._pusher.submit(self._push, self.messages[-1])
        return pubsub_types.PublishResponse(message_ids=ids)

    def _push(self, message: "PublishedMessage") -> None:
        """Deliver one message like a push subscription (retried a few times on failure)."""
        envelope = {
            "message": {
                "attributes": message.attributes,
                "data": base64.b64encode(message.data).decode(),
                "messageId": message.message_id,
                "message_id": message.message_id,
                "publishTime": datetime.datetime.now(datetime.UTC).isoformat(),
                **({"orderingKey": message.ordering_key} if message.ordering_key else {}),
            },
            "subscription": self.push_subscription,
        }
        headers = {"Content-Type": "application/json", **(self.push_headers() if self.push_headers else {})}
        post_with_retries(self.push_endpoint, json.dumps(envelope).encode(), headers)

    def stop(self) -> None:
        self._stopping.set()
        self._pusher.shutdown(wait=True)
        self._server.stop(grace=None)


@dataclass
class SinkRequest:
    client_port: int
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    #: The status the sink answered (None until it has).
    status: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)


CLOUDEVENT_FIELDS = {"id", "source", "specversion", "type"}
EVENTGRID_FIELDS = {"id", "eventType", "subject", "eventTime", "data", "dataVersion"}


#: An HTTP answer: status and headers, and the body (Event Grid's error shape when left out).
Answer = tuple[int, dict[str, str]] | tuple[int, dict[str, str], bytes]


class EventGridSink:
    """An HTTP server standing in for an Event Grid topic endpoint (and, with programmed answers,
    for any HTTP API a client must meet failing: an AWS JSON error, a slow answer)."""

    def __init__(self) -> None:
        self.requests: list[SinkRequest] = []
        #: Answers for the next requests; 200 when empty.
        self.responses: collections.deque[Answer] = collections.deque()
        #: A status, or a whole answer, for every request until cleared (an outage).
        self.fail_always: int | Answer | None = None
        #: Seconds to wait before answering (a slow endpoint).
        self.delay_seconds = 0.0
        #: Client ports of requests received and not yet answered.
        self.in_flight: set[int] = set()
        #: A webhook subscription: accepted requests are forwarded here, like Event Grid delivering.
        self.forward_to: str | None = None
        self._forwarder = futures.ThreadPoolExecutor(max_workers=2)
        self._stopping = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_OPTIONS(self) -> None:
                """The CloudEvents webhook handshake (abuse protection); programmed failures apply."""
                sink.requests.append(
                    SinkRequest(
                        self.client_address[1], self.path, {}, {k.lower(): v for k, v in self.headers.items()}, b""
                    )
                )
                if sink.delay_seconds:
                    sink._stopping.wait(sink.delay_seconds)
                if sink.fail_always:
                    answer = sink.fail_always if isinstance(sink.fail_always, tuple) else (sink.fail_always, {})
                else:
                    answer = sink.handshake({k.lower(): v for k, v in self.headers.items()})
                try:
                    self.send_response(answer[0])
                    for name, value in answer[1].items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                url = urlsplit(self.path)
                received = SinkRequest(
                    self.client_address[1],
                    url.path,
                    parse_qs(url.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                sink.requests.append(received)
                sink.in_flight.add(self.client_address[1])
                if sink.delay_seconds:
                    sink._stopping.wait(sink.delay_seconds)
                if sink.responses:
                    answer = sink.responses.popleft()
                elif sink.fail_always:
                    answer = sink.fail_always if isinstance(sink.fail_always, tuple) else (sink.fail_always, {})
                else:
                    answer = sink.validate(body, self.headers), {}
                status, headers = answer[0], answer[1]
                received.status = status
                payload = b"" if status == 200 else json.dumps({"error": {"code": str(status)}}).encode()
                if len(answer) == 3:
                    payload = answer[2]
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client stopped waiting (its timeout): nothing to answer
                finally:
                    sink.in_flight.discard(self.client_address[1])
                if status == 200 and sink.forward_to:
                    sink._forwarder.submit(sink._forward, body, self.headers.get("Content-Type", ""))

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/api/events"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def handshake(self, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Event Grid topics do not answer the webhook handshake."""
        return 405, {}

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

    def _forward(self, body: bytes, content_type: str) -> None:
        headers = {"Content-Type": content_type, "aeg-event-type": "Notification"}
        post_with_retries(self.forward_to, body, {**headers, "aeg-subscription-name": "HELIOS-ROUNDTRIP"})

    def events(self) -> list[dict[str, Any]]:
        """Every event received, across requests, in order."""
        return [event for request in self.requests for event in request.json()]

    def accepted_events(self) -> list[dict[str, Any]]:
        """Every event of the requests the sink accepted (HTTP 200), in order."""
        return [event for request in self.requests if request.status == 200 for event in request.json()]

    def stop(self) -> None:
        self._stopping.set()
        self._forwarder.shutdown(wait=True)
        self._server.shutdown()
        self._server.server_close()


class WebhookEndpoint(EventGridSink):
    """A CloudEvents webhook receiver (a Knative broker, a team's service): it answers the CloudEvents
    webhook handshake, checks each request's Standard Webhooks signature with its own
    implementation of the specification (not HELIOS's library: 401 when it does not verify), and
    takes structured, binary and batched CloudEvents (400 when one lacks a required attribute)."""

    #: Tolerance of webhook-timestamp, as the specification recommends.
    TOLERANCE_SECONDS = 300

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.endpoint = f"http://127.0.0.1:{self.port}/cloudevents"

    def handshake(self, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        origin = headers.get("webhook-request-origin")
        return (200, {"WebHook-Allowed-Origin": origin}) if origin else (400, {})

    def signature_verifies(self, body: bytes, headers: Any) -> bool:
        """The Standard Webhooks check: HMAC-SHA256 over `id.timestamp.body` with the secret's
        base64-decoded bytes, compared with each `v1,` signature given; the timestamp recent."""
        import hashlib
        import hmac

        message_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        given = headers.get("webhook-signature", "").split(" ")
        if not (message_id and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > self.TOLERANCE_SECONDS:
            return False
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        expected = "v1," + base64.b64encode(digest).decode()
        return any(hmac.compare_digest(expected, signature) for signature in given)

    def validate(self, body: bytes, headers: Any) -> int:  # type: ignore[override]
        if not self.signature_verifies(body, headers):
            return 401
        try:
            events = self.cloudevents(body, {k.lower(): v for k, v in headers.items()})
        except ValueError:
            return 400
        return 200 if events and all(e.keys() >= CLOUDEVENT_FIELDS for e in events) else 400

    @staticmethod
    def cloudevents(body: bytes, headers: dict[str, str]) -> list[dict[str, Any]]:
        """The CloudEvents of one request, whichever content mode it used."""
        content_type = headers.get("content-type", "")
        if content_type.startswith("application/cloudevents-batch+json"):
            found = json.loads(body)
            if not isinstance(found, list):
                raise ValueError("a batch is a JSON array")
            return found
        if content_type.startswith("application/cloudevents+json"):
            return [json.loads(body)]
        attributes = {k[3:]: urllib.parse.unquote(v) for k, v in headers.items() if k.startswith("ce-")}
        return [attributes | {"datacontenttype": content_type, "data": json.loads(body)}]

    def events(self) -> list[dict[str, Any]]:
        """Every CloudEvent POSTed, across requests, in order."""
        return [e for r in self.requests if r.body for e in self.cloudevents(r.body, r.headers)]

    def accepted_events(self) -> list[dict[str, Any]]:
        """Every CloudEvent of the requests the endpoint accepted, in order."""
        return [e for r in self.requests if r.status == 200 for e in self.cloudevents(r.body, r.headers)]


def post_with_retries(url: str, body: bytes, headers: dict[str, str], attempts: int = 4) -> int:
    """POST like a cloud's push delivery: retried on a connection error or an HTTP 5xx."""
    status = 0
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            status = error.code
            if status < 500:
                return status
        except OSError:
            status = 0
        time.sleep(0.2 * (attempt + 1))
    return status


def relay_sqs(sqs: Any, queue_url: str, url: str, headers: dict[str, str], expected: int, timeout: float = 15.0) -> int:
    """An EventBridge API destination stand-in: POST each event a rule routed to SQS to `url`."""
    relayed = 0
    deadline = time.monotonic() + timeout
    while relayed < expected and time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            post_with_retries(url, message["Body"].encode(), {"Content-Type": "application/json", **headers})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            relayed += 1
    return relayed


class TricklingEndpoint:
    """Accepts, reads the request, then sends one byte every 0.2 s until stopped."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open: set[socket.socket] = set()
        self.stopping = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.open.add(conn)
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self.stopping.wait(0.2):
                conn.sendall(b"X")
        except OSError:
            pass
        finally:
            conn.close()
            self.open.discard(conn)

    def stop(self) -> None:
        self.stopping.set()
        self.server.close()
