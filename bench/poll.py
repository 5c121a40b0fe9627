"""How fast the pull round trip turns pulled messages into receipts, per cloud, against a bare SDK
receive/acknowledge loop on the same stand-in in the same run.

For each cloud, N events are created as sent (their deliveries succeeded), and a message per event
is put in the subscription the way the cloud would (Pub/Sub: the Subscriber stand-in's queue;
EventBridge: the SQS queue a rule targets, on moto; Event Grid: the namespace stand-in). Then:
  bare    the SDK's own loop: receive as many as a call gives, acknowledge them, until N came;
  HELIOS  `events.services.polling.poll`: the same calls through the puller, plus parsing, a
          receipt per message and the delivery's confirmation, in PostgreSQL.
Each run starts from a full subscription; the ratio is HELIOS's messages/s over the bare loop's.

    .venv/bin/python bench/poll.py [--messages 1000] [--json]

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helios_poll; created if
missing, its HELIOS tables emptied). Prints one JSON object on its last line with --json.
"""

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup_django  # noqa: E402

KINDS = ("aws_eventbridge", "gcp_pubsub", "azure_eventgrid")
NAMESPACE_KEY = "bench-namespace-key"


def sent_events(config, n: int) -> list:
    """N events with a succeeded delivery to `config` (as if sent), created in bulk."""
    from django.utils import timezone

    from events.models import Delivery, Event

    now = timezone.now()
    events = Event.objects.bulk_create(
        [
            Event(type="OrderPlaced", source="com.bench", subject=f"orders/{i}", data={"n": i}, created_at=now)
            for i in range(n)
        ],
        batch_size=1000,
    )
    Delivery.objects.bulk_create(
        [Delivery(event=e, provider=config, mode="production", status="succeeded", completed_at=now) for e in events],
        batch_size=1000,
    )
    return events


def outgoing(events: list) -> list:
    from providers.clients.base import OutgoingEvent

    now = datetime.now(UTC)
    return [OutgoingEvent(str(e.id), e.type, e.source, e.subject, now, e.data) for e in events]


def fill_pubsub(standin, subscription: str, events: list) -> None:
    from google.pubsub_v1 import types as pubsub_types

    from providers.kinds.gcp_pubsub.client import PubSubFormat

    for number, event in enumerate(outgoing(events)):
        body = PubSubFormat({}).build(event).body
        message = pubsub_types.PubsubMessage(
            data=body["data"], attributes=body["attributes"], message_id=str(number + 1)
        )
        standin.subscriber.subscriptions[subscription].waiting.append(message)


def fill_sqs(sqs, queue_url: str, events: list) -> None:
    from providers.kinds.aws_eventbridge.client import EventBridgeFormat

    fmt = EventBridgeFormat({"source": "com.bench", "event_bus": "bench", "max_entry_bytes": 262144})
    bodies = []
    for event in outgoing(events):
        entry = fmt.build(event).body
        bodies.append(
            json.dumps(
                {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": entry["DetailType"],
                    "source": entry["Source"],
                    "time": event.time.isoformat(),
                    "detail": json.loads(entry["Detail"]),
                }
            )
        )
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])],
        )


def fill_eventgrid(namespace, events: list) -> None:
    from providers.kinds.azure_eventgrid.client import EventGridFormat

    fmt = EventGridFormat({"input_schema": "cloudevents"})
    namespace.enqueue([fmt.build(event).body for event in outgoing(events)])


def timed(action: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    count = action()
    return count, time.perf_counter() - started


def bare_loop(receive: Callable[[], list], acknowledge: Callable[[list], None], n: int) -> int:
    """The SDK's loop: receive, acknowledge, until n messages came (or the subscription is empty)."""
    got = 0
    while got < n:
        batch = receive()
        if not batch:
            break
        acknowledge(batch)
        got += len(batch)
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000, help="messages per cloud and loop (1000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object of all figures last")
    options = parser.parse_args()
    n = options.messages
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helios_poll")
    setup_django(
        database_url,
        HELIOS_DEPLOYMENT_MODE="production",
        BENCH_AWS_ACCESS_KEY_ID="AKIABENCH",
        BENCH_AWS_SECRET_ACCESS_KEY="bench",
        BENCH_EVENTGRID_ACCESS_KEY=NAMESPACE_KEY,
    )
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from django.db import connection

    from events.services import polling
    from providers.models import ProviderConfig, ReceiverSettings
    from tests.pull_standins import EventGridNamespace
    from tests.standins import EventGridSink, MotoServer, PubSubStandIn

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events_receipt, events_delivery, events_event, providers_pullstate, providers_receiversettings, "
            "providers_providerconfig RESTART IDENTITY CASCADE"
        )
    moto, standin, sink, namespace = (
        MotoServer(),
        PubSubStandIn(),
        EventGridSink(),
        EventGridNamespace(key=NAMESPACE_KEY),
    )
    subscription = "projects/helios-bench/subscriptions/bench"
    standin.topics.add("projects/helios-bench/topics/orders")
    standin.subscriber.add(subscription, "projects/helios-bench/topics/orders")
    sqs = moto.client("sqs")
    queue_url = sqs.create_queue(QueueName="helios-bench")["QueueUrl"]
    common = {"mode": "production", "demo_latency_ms": 0}
    configs = {
        "aws_eventbridge": ProviderConfig(
            name="aws-poll",
            kind="aws_eventbridge",
            aws_region="eu-west-1",
            aws_event_bus="bench",
            aws_source="com.bench",
            aws_endpoint_url=moto.url,
            credentials_env_prefix="BENCH_",
            **common,
        ),
        "gcp_pubsub": ProviderConfig(
            name="gcp-poll",
            kind="gcp_pubsub",
            gcp_project="helios-bench",
            gcp_topic="orders",
            gcp_emulator_host=standin.host,
            **common,
        ),
        "azure_eventgrid": ProviderConfig(
            name="azure-poll",
            kind="azure_eventgrid",
            azure_endpoint=sink.endpoint,
            credentials_env_prefix="BENCH_",
            **common,
        ),
    }
    targets = {
        "aws_eventbridge": {"pull_subscription": queue_url, "pull_wait_seconds": 1},
        "gcp_pubsub": {"pull_subscription": "bench", "pull_wait_seconds": 1},
        "azure_eventgrid": {
            "pull_subscription": namespace.subscription,
            "pull_namespace_topic": namespace.topic,
            "pull_namespace_endpoint": namespace.endpoint,
            "pull_wait_seconds": 10,
        },
    }
    for kind, config in configs.items():
        config.full_clean()
        config.save()
        ReceiverSettings.objects.create(provider=config, method="pull", pull_batch=n, **targets[kind])

    from providers.live_clients import puller_for

    fill = {
        "aws_eventbridge": lambda events: fill_sqs(sqs, queue_url, events),
        "gcp_pubsub": lambda events: fill_pubsub(standin, subscription, events),
        "azure_eventgrid": lambda events: fill_eventgrid(namespace, events),
    }
    figures: dict = {"cores": os.cpu_count(), "messages": n, "bare": {}, "helios": {}}
    try:
        for kind in KINDS:
            config = ProviderConfig.objects.select_related("receiver").get(name=configs[kind].name)
            fill[kind](sent_events(config, n))
            puller = puller_for(config)
            bare, seconds = timed(
                lambda puller=puller: bare_loop(
                    lambda: puller.receive(puller.max_per_call),
                    lambda batch: puller.acknowledge([p.handle for p in batch]),
                    n,
                )
            )
            puller.close()
            figures["bare"][kind] = {"messages": bare, "per_s": round(bare / seconds, 1)}
            fill[kind](sent_events(config, n))
            report, seconds = timed(lambda config=config: polling.poll(config.pk, budget_seconds=600))
            figures["helios"][kind] = {
                "messages": report.received,
                "confirmed": report.confirmed,
                "per_s": round(report.received / seconds, 1),
                "error": report.error,
            }
            print(kind, json.dumps({"bare": figures["bare"][kind], "helios": figures["helios"][kind]}), flush=True)
    finally:
        moto.stop()
        standin.stop()
        sink.stop()
        namespace.stop()
    figures["ratios"] = {
        kind: round(figures["helios"][kind]["per_s"] / figures["bare"][kind]["per_s"], 2) for kind in KINDS
    }
    figures["targets_met"] = {f"{kind} >= 0.5": ratio >= 0.5 for kind, ratio in figures["ratios"].items()}
    print("ratios", json.dumps(figures["ratios"]))
    if options.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
