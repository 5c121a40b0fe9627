"""The Pub/Sub client against Google's own emulator, where the machine has it installed."""

import os
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers.clients.base import ClientSettings, OutgoingEvent
from providers.kinds import build_client
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


def test_publish_reaches_the_official_emulator():
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
        settings = ClientSettings(
            name="emulator",
            kind="gcp_pubsub",
            options={"project": "helios-test", "topic": "orders", "ordering_by_subject": False},
            credentials={"emulator_host": host},
        )
        client = build_client(settings, mode="production")
        event = OutgoingEvent(str(uuid.uuid4()), "OrderPlaced", "com.test", "", datetime.now(UTC), {"a": 1})
        [result] = client.publish([event])
        client.close()
        assert result.ok and result.message_id.isdigit()
    finally:
        os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        emulator.terminate()
        emulator.wait(timeout=20)
