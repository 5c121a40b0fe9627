"""A service publishes through a real gunicorn: CloudEvents made by the cloudevents SDK's own HTTP
conversion reach the Pub/Sub stand-in through a real worker, and read back from the API; with
tracing on, the caller's trace runs through both processes."""

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from cloudevents.v1.conversion import to_binary, to_structured
from cloudevents.v1.http import CloudEvent
from django.db import connection
from django_q.conf import Conf
from django_q.tasks import async_task

from events.services.polling import POLL_TASK
from gateway.keys import create_key
from tests.conftest import PUBSUB_TOPIC, PULL_SUBSCRIPTION
from tests.e2e.test_production_server import gunicorn, production_env, static_root  # noqa: F401 (fixture)
from tests.otlp_receiver import OtlpReceiver

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def call(url: str, body: bytes | None = None, **headers: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_cloudevents_through_gunicorn_reach_the_stand_in(
    static_root,  # noqa: F811
    production_providers,
    pubsub_standin,
    start_qcluster,
):
    gcp = production_providers["gcp_pubsub"]
    secret = create_key(name="orders", providers=[gcp], allow_production=True).secret
    # One deployment: the worker reads the tasks the web process signs, so it shares its SECRET_KEY.
    start_qcluster(SECRET_KEY=production_env(static_root)["SECRET_KEY"])
    auth = {"Authorization": f"Bearer {secret}"}
    structured = CloudEvent(
        {"id": str(uuid.uuid4()), "type": "OrderPlaced", "source": "/orders", "heliosproviders": gcp.name},
        {"order_id": "o-1"},
    )
    binary = CloudEvent(
        {
            "id": "order-2",
            "type": "OrderPlaced",
            "source": "/orders",
            "datacontenttype": "application/json",  # binary mode: the SDK sends it as Content-Type
            "heliosproviders": gcp.name,
        },
        {"order_id": "o-2"},
    )
    with gunicorn(production_env(static_root)) as url:
        ids = []
        for headers, body in (to_structured(structured), to_binary(binary)):
            status, answer = call(f"{url}/api/v1/events", body, **headers, **auth)
            assert status == 202, answer
            ids.append(answer["events"][0]["id"])
        assert ids[0] == structured["id"]
        status, answer = call(f"{url}/api/v1/events", b"{}", **{"Content-Type": "application/json"})
        assert status == 401 and answer["errors"] == ["Send the API key as `Authorization: Bearer <key>`."]
        deadline = time.monotonic() + 60
        statuses: list[str] = []
        while time.monotonic() < deadline:
            # "accepted" until the worker expands the request, then each delivery's status
            # a 503 (SQLite busy with the worker's writes) says "ask again", as the API documents
            read = [answer for code, answer in (call(f"{url}/api/v1/events/{i}", **auth) for i in ids) if code != 503]
            assert all("status" in r for r in read), read
            statuses = [r["deliveries"][0]["status"] if r["deliveries"] else r["status"] for r in read]
            if statuses == ["succeeded", "succeeded"]:
                break
            time.sleep(0.3)
        assert statuses == ["succeeded", "succeeded"]
    sent = sorted(json.loads(m.data)["order_id"] for m in pubsub_standin.messages)
    assert sent == ["o-1", "o-2"]
    assert {m.attributes["ce-id"] for m in pubsub_standin.messages} == set(ids)


def test_one_trace_across_the_web_and_the_worker_processes(
    static_root,  # noqa: F811
    production_providers,
    pubsub_standin,
    start_qcluster,
    make_receiver,
    monkeypatch,
):
    """gunicorn and `manage.py worker` export to one OTLP/HTTP receiver: the caller's trace runs
    through the web's server and accept spans into the worker's send span, the message, and back:
    the worker's poll task pulls the message from the subscription and its receipt's span joins."""
    receiver = OtlpReceiver()
    otel = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http/dup",  # the old HTTP conventions too: they keep the query
    }
    gcp = production_providers["gcp_pubsub"]
    pubsub_standin.subscriber.add(PULL_SUBSCRIPTION, PUBSUB_TOPIC)
    make_receiver(gcp, method="pull", pull_subscription="helios-pull", auth="token", secret_env="")
    secret = create_key(name="orders", providers=[gcp], allow_production=True).secret
    env = production_env(static_root, **otel)
    start_qcluster(SECRET_KEY=env["SECRET_KEY"], **otel)
    trace_id, caller = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    body = json.dumps({"type": "OrderPlaced", "source": "/orders", "data": {}, "providers": [gcp.name]}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"}
    try:
        with gunicorn(env) as url:
            status, answer = call(f"{url}/api/v1/events", body, **headers, traceparent=f"00-{trace_id}-{caller}-01")
            assert status == 202, answer
            assert call(f"{url}/receive/eventgrid/999/?token=s3cret-in-the-query", b"{}")[0] == 404
            deadline = time.monotonic() + 60
            while not receiver.named(f"send {gcp.name}") or not receiver.named("accept"):
                assert time.monotonic() < deadline, [span.name for span in receiver.spans]
                time.sleep(0.2)
        # The worker polls the subscription (the poll task its scheduler queues every minute,
        # queued here at once; signed with the deployment's key, as the worker reads it).
        monkeypatch.setattr(Conf, "SECRET_KEY", env["SECRET_KEY"])
        async_task(POLL_TASK, gcp.pk)
        deadline = time.monotonic() + 60
        while not receiver.named(f"process {gcp.name}"):
            assert time.monotonic() < deadline, [span.name for span in receiver.spans]
            time.sleep(0.2)
        [server] = receiver.named("POST api/v1/events")
        [accept] = receiver.named("accept")
        [send] = receiver.named(f"send {gcp.name}")
        [back] = receiver.named(f"process {gcp.name}")
        assert (back.trace_id, back.parent_span_id, back.attributes["messaging.operation.name"]) == (
            trace_id,
            accept.span_id,
            "pull",
        )
        assert back.links == [(trace_id, accept.span_id, {"helios.event.id": answer["events"][0]["id"]})]
        assert (server.trace_id, server.parent_span_id) == (trace_id, caller)
        assert (accept.trace_id, accept.parent_span_id) == (trace_id, server.span_id)
        assert (send.trace_id, send.parent_span_id) == (trace_id, accept.span_id)
        assert accept.attributes["helios.event.id"] == send.attributes["helios.event.id"] == answer["events"][0]["id"]
        [message] = pubsub_standin.messages
        assert message.attributes["ce-traceparent"] == f"00-{trace_id}-{accept.span_id}-01"
        assert "s3cret" not in repr(receiver.spans)
        if connection.vendor == "postgresql":  # psycopg's instrumentation: each statement inside its span
            sql = [span for span in receiver.spans if span.scope == "opentelemetry.instrumentation.psycopg"]
            in_trace = {span.parent_span_id for span in sql if span.trace_id == trace_id}
            assert in_trace and in_trace <= {server.span_id, accept.span_id, send.span_id}
            assert all(span.parent_span_id for span in sql)  # none is a trace of its own
    finally:
        receiver.stop()
