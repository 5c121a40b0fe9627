"""An unfinished delivery says what it waits for as of now, on the deliveries list and the event
page: an open circuit's probe, its next attempt, or a worker; never a time already past."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Delivery
from events.selectors import delivery_status_rows
from providers.models import ProviderRuntime
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(make_provider):
    config = make_provider("aws-orders", "aws_eventbridge", circuit_cooldown_seconds=60)
    event = publish_event(event_type="OrderPlaced", source="com.test", data={}, providers=[config], ring=False)
    delivery = Delivery.objects.get(event=event)
    return config, event, delivery


def retrying(delivery: Delivery, *, due_in: timedelta) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status="retrying", attempts=1, next_attempt_at=timezone.now() + due_in
    )


def open_circuit(config, *, opened_ago: timedelta) -> None:
    ProviderRuntime.objects.update_or_create(
        provider=config, defaults={"circuit_state": "open", "circuit_changed_at": timezone.now() - opened_ago}
    )


def shown(admin_client) -> str:
    return admin_client.get(reverse("admin:events_delivery_changelist")).content.decode()


def test_a_retry_ahead_says_when_and_a_retry_past_due_says_it_waits_for_a_worker(admin_client, waiting):
    _, event, delivery = waiting
    retrying(delivery, due_in=timedelta(minutes=5))
    ahead = Delivery.objects.get(pk=delivery.pk).next_attempt_at
    assert f"next attempt {ahead:%H:%M:%S} UTC" in shown(admin_client)
    assert delivery_status_rows(event)[0]["waiting"] == f"next attempt {ahead:%H:%M:%S} UTC"
    retrying(delivery, due_in=-timedelta(minutes=5))
    assert "due now: waiting for a worker" in shown(admin_client)
    assert "next attempt" not in shown(admin_client)


def test_a_delivery_held_by_an_open_circuit_says_so_and_when_the_probe_goes(admin_client, waiting):
    config, event, delivery = waiting
    retrying(delivery, due_in=-timedelta(minutes=1))  # its time has passed: the circuit holds it
    open_circuit(config, opened_ago=timedelta(seconds=20))
    probe = ProviderRuntime.objects.get(provider=config).circuit_changed_at + timedelta(seconds=60)
    assert f"held by open circuit, probe {probe:%H:%M:%S} UTC" in shown(admin_client)
    row = delivery_status_rows(event)[0]
    assert row["waiting"] == f"held by open circuit, probe {probe:%H:%M:%S} UTC"
    assert row["circuit"].startswith("The circuit is open since")  # the full sentence, as the tooltip
    open_circuit(config, opened_ago=timedelta(minutes=5))  # the probe's time has come
    assert "held by open circuit, probe due now" in shown(admin_client)


def test_final_deliveries_wait_for_nothing(admin_client, waiting):
    _, event, delivery = waiting
    Delivery.objects.filter(pk=delivery.pk).update(status="succeeded", attempts=1, completed_at=timezone.now())
    assert delivery_status_rows(event)[0]["waiting"] == ""
    page = shown(admin_client)
    assert "waiting for a worker" not in page and "next attempt" not in page
