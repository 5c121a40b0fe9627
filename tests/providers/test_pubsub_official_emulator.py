"""The Pub/Sub client and the pull round trip's puller against Google's own emulator, where the
machine has it installed."""

import os
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers.clients.base import ClientSettings, OutgoingEvent
from providers.inbound.puller import PullTarget
from providers.kinds import build_client
from providers.kinds.gcp_pubsub.puller import PubSubPuller
from tests.standins import free_port


def emulator_command(port: int) -> list[str] | None:
    """The Cloud SDK's Pub/Sub emulator, if installed."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    root = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    binary = Path(root) / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
    return [str(binary), "--host=127.0.0.1", f"--port={port}"] if binary.exists() else None


@pytest.fixture(scope="module")
def emulator_host():
    """Google's emulator on a free port with the topic projects/helios-test/topics/orders."""
    port = free_port()
    command = emulator_command(port)
    if command is None:
        pytest.skip(
            "Google's Cloud Pub/Sub emulator is not installed here (gcloud and its pubsub-emulator "
            "component); the gRPC stand-in covers the client"
        )
    emulator = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = f"127.0.0.1:{port}"
    try:
        from google.cloud import pubsub_v1

        os.environ["PUBSUB_EMULATOR_HOST"] = host
        admin = pubsub_v1.PublisherClient()
        deadline = time.monotonic() + 30
        while True:
            try:
                admin.create_topic(name="projects/helios-test/topics/orders", timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield host
    finally:
        os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        emulator.terminate()
        emulator.wait(timeout=20)


def settings_for(host: str) -> ClientSettings:
    return ClientSettings(
        name="emulator",
        kind="gcp_pubsub",
        options={"project": "helios-test", "topic": "orders", "ordering_by_subject": False},
        credentials={"emulator_host": host},
    )


def publish(host: str, count: int) -> list[OutgoingEvent]:
    events = [
        OutgoingEvent(str(uuid.uuid4()), "OrderPlaced", "com.test", f"o-{n}", datetime.now(UTC), {"n": n})
        for n in range(count)
    ]
    client = build_client(settings_for(host), mode="production")
    results = client.publish(events)
    client.close()
    assert all(result.ok and result.message_id.isdigit() for result in results)
    return events


def test_publish_reaches_the_official_emulator(emulator_host):
    publish(emulator_host, 1)


def test_the_pull_round_trip_reads_and_acknowledges_through_the_official_emulator(emulator_host):
    from google.cloud import pubsub_v1

    subscription = "projects/helios-test/subscriptions/helios-pull"
    pubsub_v1.SubscriberClient().create_subscription(name=subscription, topic="projects/helios-test/topics/orders")
    sent = publish(emulator_host, 3)
    puller = PubSubPuller(settings_for(emulator_host), PullTarget(subscription="helios-pull"), wait_seconds=5)
    assert puller.check() == f"pull subscription {subscription} exists (topic projects/helios-test/topics/orders)"
    pulled = []
    deadline = time.monotonic() + 30
    while len(pulled) < 3 and time.monotonic() < deadline:
        batch = puller.receive(10)
        puller.acknowledge([p.handle for p in batch])
        pulled += batch
    assert sorted(p.event.event_id for p in pulled) == sorted(e.id for e in sent)
    assert {p.event.subject for p in pulled} == {"o-0", "o-1", "o-2"} and not any(p.problem for p in pulled)
    assert puller.receive(10) == []  # acknowledged: nothing comes again
    puller.close()
