"""A real `manage.py worker` with tracing on: what its processes still hold reaches the collector
when they stop."""

import time

import pytest

from events.models import Delivery
from tests.otlp_receiver import OtlpReceiver
from tests.publishing import publish_event

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_a_stopping_worker_exports_the_spans_it_still_holds(production_providers, pubsub_standin, start_qcluster):
    receiver = OtlpReceiver()
    gcp = production_providers["gcp_pubsub"]
    try:
        cluster = start_qcluster(
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="3600000",  # the batch's own thread would wait an hour
        )
        event = publish_event(event_type="OrderPlaced", source="/orders", data={}, providers=[gcp])
        deadline = time.monotonic() + 60
        while Delivery.objects.get(event=event).status != "succeeded":
            assert time.monotonic() < deadline, Delivery.objects.get(event=event).status
            time.sleep(0.2)
        cluster.process.terminate()  # the supervisor asks its cluster to stop, as django-q2 does
        assert cluster.process.wait(timeout=40) == 0
        [send] = receiver.named(f"send {gcp.name}")
        assert send.attributes["helios.event.id"] == str(event.id)
    finally:
        receiver.stop()
