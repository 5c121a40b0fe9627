"""Stand-ins for the pull round trip, speaking each cloud's real consumer protocol:

- Pub/Sub: `google.pubsub.v1.Subscriber` (CreateSubscription, GetSubscription, Pull,
  Acknowledge, ModifyAckDeadline) on the same gRPC server as the Publisher stand-in; a
  subscription gets every message published to its topic after it was made.
- Event Grid: the namespace topic data plane over HTTP (`:receive`, `:acknowledge`, `:release`,
  `:reject` on /topics/<topic>/eventsubscriptions/<subscription>) as azure-eventgrid's
  `EventGridConsumerClient` calls it, with `Authorization: SharedAccessKey <key>`.
EventBridge's pull (rule → SQS) needs no stand-in of its own: moto serves both.
"""

import collections
import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
from google.protobuf import empty_pb2
from google.pubsub_v1 import types as pubsub_types


@dataclass
class Subscription:
    name: str
    topic: str
    waiting: collections.deque = field(default_factory=collections.deque)
    outstanding: dict[str, Any] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)


class SubscriberService:
    """Pub/Sub's Subscriber service for the stand-in: messages wait per subscription until pulled,
    then stay outstanding until acknowledged (`redeliver_unacknowledged` plays an ack deadline)."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.pull_calls = 0
        #: Errors for the next Pull calls, one per call.
        self.fail_next_pull: collections.deque = collections.deque()
        self._ack_ids = itertools.count(1)
        self._lock = threading.Lock()

    def handlers(self) -> grpc.GenericRpcHandler:
        """The generic handler to add to the stand-in's gRPC server."""
        methods = {
            "CreateSubscription": grpc.unary_unary_rpc_method_handler(
                self._create, pubsub_types.Subscription.deserialize, pubsub_types.Subscription.serialize
            ),
            "GetSubscription": grpc.unary_unary_rpc_method_handler(
                self._get, pubsub_types.GetSubscriptionRequest.deserialize, pubsub_types.Subscription.serialize
            ),
            "Pull": grpc.unary_unary_rpc_method_handler(
                self._pull, pubsub_types.PullRequest.deserialize, pubsub_types.PullResponse.serialize
            ),
            "Acknowledge": grpc.unary_unary_rpc_method_handler(
                self._acknowledge, pubsub_types.AcknowledgeRequest.deserialize, empty_pb2.Empty.SerializeToString
            ),
            "ModifyAckDeadline": grpc.unary_unary_rpc_method_handler(
                self._modify, pubsub_types.ModifyAckDeadlineRequest.deserialize, empty_pb2.Empty.SerializeToString
            ),
        }
        return grpc.method_handlers_generic_handler("google.pubsub.v1.Subscriber", methods)

    def deliver(self, topic: str, message: Any) -> None:
        """A message was published to `topic`: every subscription of it gets a copy."""
        with self._lock:
            for subscription in self.subscriptions.values():
                if subscription.topic == topic:
                    subscription.waiting.append(message)

    def add(self, name: str, topic: str) -> None:
        """A subscription made directly (as gcloud would)."""
        with self._lock:
            self.subscriptions[name] = Subscription(name, topic)

    def redeliver_unacknowledged(self) -> None:
        """Every ack deadline passes at once: outstanding messages wait again."""
        with self._lock:
            for subscription in self.subscriptions.values():
                subscription.waiting.extendleft(reversed(list(subscription.outstanding.values())))
                subscription.outstanding.clear()

    def _create(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.add(request.name, request.topic)
        return pubsub_types.Subscription(name=request.name, topic=request.topic)

    def _get(self, request: Any, context: grpc.ServicerContext) -> Any:
        found = self.subscriptions.get(request.subscription)
        if found is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "Subscription does not exist")
        return pubsub_types.Subscription(name=found.name, topic=found.topic)

    def _pull(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.pull_calls += 1
            fault = self.fail_next_pull.popleft() if self.fail_next_pull else None
            subscription = self.subscriptions.get(request.subscription)
        if fault is not None:
            context.abort(fault, f"injected {fault.name}")
        if subscription is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "Subscription does not exist")
        received = []
        with self._lock:
            while subscription.waiting and len(received) < request.max_messages:
                message = subscription.waiting.popleft()
                ack_id = f"ack-{next(self._ack_ids)}"
                subscription.outstanding[ack_id] = message
                received.append(pubsub_types.ReceivedMessage(ack_id=ack_id, message=message, delivery_attempt=1))
        return pubsub_types.PullResponse(received_messages=received)

    def _acknowledge(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            subscription = self.subscriptions[request.subscription]
            for ack_id in request.ack_ids:
                if subscription.outstanding.pop(ack_id, None) is not None:
                    subscription.acknowledged.append(ack_id)
        return empty_pb2.Empty()

    def _modify(self, request: Any, context: grpc.ServicerContext) -> Any:
        return empty_pb2.Empty()


class EventGridNamespace:
    """An Event Grid namespace's data plane for one topic and event subscription in queue mode."""

    def __init__(self, *, topic: str = "orders", subscription: str = "helios-roundtrip", key: str = "ns-key") -> None:
        self.topic, self.subscription, self.key = topic, subscription, key
        self.waiting: collections.deque = collections.deque()
        self.locked: dict[str, dict[str, Any]] = {}
        self.acknowledged: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.released: list[dict[str, Any]] = []
        self.receive_calls = 0
        #: Statuses for the next receive calls, one per call (e.g. 503).
        self.fail_next_receive: collections.deque = collections.deque()
        self._lock = threading.Lock()
        namespace = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                url = urlsplit(self.path)
                prefix = f"/topics/{namespace.topic}/eventsubscriptions/{namespace.subscription}:"
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"SharedAccessKey {namespace.key}":
                    return self._answer(401, {"error": {"code": "Unauthorized", "message": "Invalid key."}})
                if not url.path.startswith(prefix):
                    return self._answer(404, {"error": {"code": "NotFound", "message": "No such subscription."}})
                action = url.path[len(prefix) :]
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if action == "receive":
                    status, answer = namespace.receive(int(query.get("maxEvents", "1")))
                    return self._answer(status, answer)
                if action in ("acknowledge", "release", "reject"):
                    return self._answer(200, namespace.settle(action, json.loads(body)["lockTokens"]))
                return self._answer(404, {"error": {"code": "NotFound", "message": action}})

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        """CloudEvents routed to the subscription (as the namespace topic would)."""
        with self._lock:
            self.waiting.extend(events)

    def receive(self, max_events: int) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.receive_calls += 1
            if self.fail_next_receive:
                status = self.fail_next_receive.popleft()
                return status, {"error": {"code": "ServiceUnavailable", "message": "injected"}}
            details = []
            while self.waiting and len(details) < max_events:
                token = uuid.uuid4().hex
                self.locked[token] = self.waiting.popleft()
                details.append(
                    {"brokerProperties": {"lockToken": token, "deliveryCount": 1}, "event": self.locked[token]}
                )
        return 200, {"value": details}

    def settle(self, action: str, tokens: list[str]) -> dict[str, Any]:
        succeeded, failed = [], []
        with self._lock:
            for token in tokens:
                event = self.locked.pop(token, None)
                if event is None:
                    failed.append({"lockToken": token, "error": {"code": "TokenLost", "message": "unknown token"}})
                    continue
                succeeded.append(token)
                {"acknowledge": self.acknowledged, "reject": self.rejected, "release": self.released}[action].append(
                    event
                )
                if action == "release":
                    self.waiting.append(event)
        return {"succeededLockTokens": succeeded, "failedLockTokens": failed}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
