"""Following one event end to end: an API request's W3C trace context continues through the
server span, the accept, and each provider call on the worker, exported over OTLP/HTTP to a
real receiver, and travels to every cloud in its own place (CloudEvents distributed tracing)."""

import json
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core import instrumentations, logs, tracing
from core.instrumentations import hidden_query
from events.models import Delivery, Event
from events.services.polling import poll
from events.services.reconcile import reconcile
from events.services.sending import send_due
from gateway.expansion import expand_accepted
from tests.conftest import PUBSUB_TOPIC, PULL_SUBSCRIPTION
from tests.otlp_receiver import OtlpReceiver
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP's SpanKind numbers


@pytest.fixture
def receiver(monkeypatch):
    """Tracing on for this test, exporting to a local OTLP/HTTP receiver; off again after."""
    otlp = OtlpReceiver()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "helios-test")
    assert tracing.configure()
    yield otlp
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert not tracing.configure()
    otlp.stop()


def test_tracing_is_off_unless_the_environment_names_an_exporter():
    assert tracing.exporter_names({}) == []
    assert tracing.exporter_names({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert tracing.exporter_names({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == ["otlp"]
    assert tracing.exporter_names({"OTEL_TRACES_EXPORTER": "otlp,console"}) == ["otlp", "console"]
    assert tracing.exporter_names({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}) == []
    assert not tracing.enabled() and tracing.current_context() == {}
    assert instrumentations.chosen({}) == ["django", "psycopg", "botocore"]
    assert instrumentations.chosen({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "psycopg, botocore"}) == ["django"]


def test_one_trace_from_the_request_through_helios_to_every_cloud(
    receiver,
    api_post,
    make_key,
    production_providers,
    eventbridge_target,
    pubsub_standin,
    eventgrid_sink,
    webhook_endpoint,
    make_receiver,
):
    configs = list(production_providers.values())
    gcp = production_providers["gcp_pubsub"]
    pubsub_standin.subscriber.add(PULL_SUBSCRIPTION, PUBSUB_TOPIC)
    make_receiver(gcp, method="pull", pull_subscription="helios-pull", auth="token", secret_env="")
    key = make_key(providers=configs, allow_production=True)
    body = {"type": "OrderPlaced", "source": "com.test", "data": {"n": 1}, "providers": [c.name for c in configs]}
    answer = api_post(key.secret, body, traceparent=TRACEPARENT)
    assert answer.status_code == 202, answer.content
    [event_id] = [e["id"] for e in answer.json()["events"]]
    assert expand_accepted(send=True) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    tracing.flush()

    [server] = receiver.named("POST api/v1/events")  # Django's instrumentation: method and route
    [accept] = receiver.named("accept")
    assert (server.scope, server.service, server.kind, server.trace_id, server.parent_span_id) == (
        "opentelemetry.instrumentation.django",
        "helios-test",
        SERVER,
        TRACE_ID,
        CALLER_SPAN,
    )
    assert server.attributes["http.response.status_code"] == 202
    assert (accept.trace_id, accept.parent_span_id, accept.attributes["helios.event.id"]) == (
        TRACE_ID,
        server.span_id,
        event_id,
    )
    event = Event.objects.get(pk=event_id)
    assert event.traceparent == f"00-{TRACE_ID}-{accept.span_id}-01"

    sends = {span.attributes["helios.provider"]: span for span in receiver.spans if span.kind == PRODUCER}
    assert sorted(sends) == sorted(c.name for c in configs)
    for config in configs:
        send = sends[config.name]
        delivery = Delivery.objects.get(provider=config)
        assert (send.trace_id, send.parent_span_id) == (TRACE_ID, accept.span_id)
        assert send.links == [(TRACE_ID, accept.span_id, {"helios.event.id": event_id})]
        assert send.attributes["helios.event.id"] == event_id
        assert send.attributes["messaging.message.id"] == delivery.provider_message_id
        assert send.scope == "helios"
        [attempt] = delivery.attempt_log.all()
        assert attempt.traceparent == f"00-{TRACE_ID}-{send.span_id}-01"
    assert sends["gcp-prod"].attributes["messaging.system"] == "gcp_pubsub"
    # botocore's instrumentation: the AWS call inside HELIOS's send span, not a trace of its own.
    [put_events] = [span for span in receiver.spans if span.scope == "opentelemetry.instrumentation.botocore"]
    assert (put_events.name, put_events.trace_id, put_events.parent_span_id) == (
        "EventBridge.PutEvents",
        TRACE_ID,
        sends["aws-prod"].span_id,
    )
    assert sends["azure-prod"].attributes["messaging.system"] == "eventgrid"

    # Back from the cloud: HELIOS pulls the message from the subscription; the receipt's span
    # joins the trace.
    assert poll(gcp.pk, budget_seconds=20).confirmed == 1
    tracing.flush()
    [back] = receiver.named("process gcp-prod")
    assert (back.kind, back.trace_id, back.parent_span_id) == (CONSUMER, TRACE_ID, accept.span_id)
    assert back.links == [(TRACE_ID, accept.span_id, {"helios.event.id": event_id})]
    assert back.attributes["messaging.operation.name"] == "pull"

    # Each cloud got the event's trace context in its own place.
    [message] = pubsub_standin.messages
    assert message.attributes["ce-traceparent"] == event.traceparent
    [envelope] = eventbridge_target.received(1)
    assert envelope["detail"]["metadata"]["traceparent"] == event.traceparent
    [grid_event] = eventgrid_sink.events()
    assert grid_event["traceparent"] == event.traceparent
    [webhook_event] = webhook_endpoint.events()
    assert webhook_event["traceparent"] == event.traceparent


def test_a_traced_request_keeps_query_parameter_names_but_never_their_values(receiver, client):
    client.post("/receive/eventgrid/1/?token=s3cret-in-the-query&x=1", b"{}", content_type="application/json")
    tracing.flush()
    [server] = receiver.named("POST receive/eventgrid/<int:config_id>/")
    assert server.attributes["http.response.status_code"] == 404
    assert "s3cret" not in repr(receiver.spans)
    assert hidden_query("https://h/p?token=s3cret&x=&y=2") == "https://h/p?token=[hidden]&x=[hidden]&y=[hidden]"
    assert hidden_query("https://h/p") == "https://h/p"


def test_probes_are_not_traced(receiver, client):
    assert client.get("/healthz").status_code == 200
    client.get("/nowhere")
    tracing.flush()
    assert [span.name for span in receiver.spans] == ["GET"]  # the unknown path, not the probe


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's instrumentation: PostgreSQL only")
def test_sql_is_traced_inside_a_span_and_never_as_a_trace_of_its_own(receiver):
    import psycopg

    params = connection.get_connection_params()
    names = {"dbname", "user", "password", "host", "port"}
    with psycopg.connect(**{name: value for name, value in params.items() if name in names}) as fresh:
        fresh.execute("SELECT 1")  # outside any span: housekeeping
        with tracing.span("work") as work:
            fresh.execute("SELECT 2")
    tracing.flush()
    sql = [span for span in receiver.spans if span.scope == "opentelemetry.instrumentation.psycopg"]
    context = work.get_span_context()
    assert [(span.trace_id, span.parent_span_id) for span in sql] == [
        (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's instrumentation: PostgreSQL only")
def test_a_worker_s_instrumentations_are_quiet_outside_spans_and_record_inside(receiver):
    """A worker's claims and records run outside any span: there the instrumentations skip their
    work altogether (not only the export), and inside HELIOS's spans they record as before."""
    import psycopg
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    params = connection.get_connection_params()
    names = {"dbname", "user", "password", "host", "port"}
    seen: dict[str, bool] = {}

    def worker() -> None:  # a thread of its own: its context starts empty and ends with it
        instrumentations.quiet_outside_spans()
        with psycopg.connect(**{name: value for name, value in params.items() if name in names}) as fresh:
            fresh.execute("SELECT 1")
            seen["outside"] = is_instrumentation_enabled()
            with tracing.span("send") as send:
                fresh.execute("SELECT 2")
                seen["inside"] = is_instrumentation_enabled()
                seen["send"] = send.get_span_context()
            seen["after"] = is_instrumentation_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    tracing.flush()
    assert (seen["outside"], seen["inside"], seen["after"]) == (False, True, False)
    sql = [span for span in receiver.spans if span.scope == "opentelemetry.instrumentation.psycopg"]
    assert [(span.name, span.parent_span_id) for span in sql] == [("SELECT", f"{seen['send'].span_id:016x}")]
    assert is_instrumentation_enabled()  # this thread never was quiet


def test_a_task_run_in_the_web_process_leaves_its_instrumentations_as_they_were(receiver):
    """django-q2's sync mode runs a task in the calling process and sends `post_spawn` for it:
    that process is no worker of its own and must not go quiet (its requests' SQL would vanish
    from their traces)."""
    from django_q.signals import post_spawn
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    tracing.set_workers_up()
    try:
        post_spawn.send(sender="django_q", proc_name="MainProcess")
        assert is_instrumentation_enabled()
    finally:
        post_spawn.disconnect(dispatch_uid="helios_tracing_worker")


def test_the_events_of_one_request_share_one_parsed_context():
    """Links to the events of one request cost one parse of their shared `traceparent`."""
    first = tracing.link_to(TRACEPARENT, "", **{"helios.event.id": "a"})
    second = tracing.link_to(TRACEPARENT, "", **{"helios.event.id": "b"})
    assert first.context is second.context and first.context.trace_id == int(TRACE_ID, 16)
    assert (first.attributes["helios.event.id"], second.attributes["helios.event.id"]) == ("a", "b")
    assert tracing.link_to("00-" + "0" * 32 + "-" + CALLER_SPAN + "-01") is None  # an invalid trace id
    assert tracing.context_of("not a traceparent") is None and tracing.context_of("") is None


def test_without_tracing_nothing_is_carried(api_post, make_key, production_providers, pubsub_standin):
    gcp = production_providers["gcp_pubsub"]
    key = make_key(providers=[gcp], allow_production=True)
    answer = api_post(
        key.secret, {"type": "T", "source": "s", "data": {}, "providers": [gcp.name]}, traceparent=TRACEPARENT
    )
    assert answer.status_code == 202
    assert expand_accepted(send=True) == 1
    assert Event.objects.get().traceparent == ""
    assert not any(name.endswith("traceparent") for name in pubsub_standin.messages[0].attributes)


def test_a_json_log_line_inside_a_span_carries_its_trace_and_span_ids(receiver, caplog):
    with caplog.at_level(logging.INFO, logger="helios.test"), tracing.span("work") as current:
        logging.getLogger("helios.test").info("inside")
    record = next(r for r in caplog.records if r.getMessage() == "inside")
    logs.ContextFilter().filter(record)
    context = current.get_span_context()
    line = json.loads(logs.JsonFormatter().format(record))
    assert (line["trace_id"], line["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")


def test_the_event_page_links_its_trace(receiver, admin_client, settings, demo_providers):
    settings.HELIOS_TRACE_URL = "https://jaeger.example.com/trace/{trace_id}"
    with tracing.span("caller") as caller:
        event = publish_event(event_type="T", source="s", data={}, providers=demo_providers[:1])
    trace_id = f"{caller.get_span_context().trace_id:032x}"
    assert event.traceparent[3:35] == trace_id
    page = admin_client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert f'<a href="https://jaeger.example.com/trace/{trace_id}">{trace_id}</a>' in page


def test_attempt_inspection_names_the_span_of_each_attempt(receiver, admin_client, settings, demo_providers):
    settings.HELIOS_TRACE_URL = "https://tempo.example.com/trace/{trace_id}?span={span_id}"
    config = demo_providers[0]
    event = publish_event(event_type="T", source="s", data={}, providers=[config])
    send_due(provider_id=config.pk)
    tracing.flush()
    [send] = receiver.named(f"send {config.name}")
    delivery = Delivery.objects.get(event=event, provider=config)
    assert delivery.status == "succeeded"
    page = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk])).content.decode()
    assert f"<code>{send.span_id}</code> of trace" in page
    url = f"https://tempo.example.com/trace/{send.trace_id}?span={send.span_id}"
    assert f'<a href="{url}">{send.trace_id}</a>' in page


def test_a_cli_publish_and_a_reconciliation_run_are_spans_of_their_own(receiver, demo_providers):
    config = demo_providers[0]
    event = publish_event(event_type="T", source="s", data={}, providers=[config])
    reconcile(provider=config, since=timezone.now() - timedelta(hours=1))
    tracing.flush()
    [publish] = receiver.named("publish")
    assert (publish.parent_span_id, publish.attributes["helios.origin"]) == ("", "CLI")
    assert publish.attributes["helios.event.id"] == str(event.pk)
    [run] = receiver.named("reconcile")
    assert run.attributes["helios.provider"] == config.name
