"""A claim of several slow provider calls keeps its lease: the sweeper does not resend it."""

import threading
import time

import pytest
from django.db import connections

from events.models import Delivery, DeliveryAttempt
from events.services.sending import send_due
from events.services.sweeper import sweep
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_lease_is_renewed_between_slow_batches(production_providers, eventgrid_sink, settings):
    settings.HELIOS_LEASE_SECONDS = 2
    settings.HELIOS_PROVIDER_TIMEOUT_SECONDS = 5
    config = production_providers["azure_eventgrid"]
    eventgrid_sink.delay_seconds = 0.8
    for n in range(6):  # 400 KB each: two per 1 MB request, three slow requests (~2.4 s > the lease)
        publish_event(event_type="T", source="s", data={"n": n, "pad": "x" * 400_000}, providers=[config], ring=False)

    def worker() -> None:
        try:
            send_due(provider_id=config.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(2.3)  # past the original lease, while the third request is still in flight
    report = sweep()
    thread.join(timeout=30)
    assert report.leases_recovered == 0
    assert len(eventgrid_sink.requests) == 3
    assert set(Delivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}
    assert not DeliveryAttempt.objects.filter(outcome="unknown").exists()
