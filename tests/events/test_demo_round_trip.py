"""Demo mode's round trip: HELIOS plays the cloud delivering sent events back to the receiver,
so receipts, confirmation and reconciliation work without a cloud."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Delivery, DemoArrival, Receipt
from events.services.reconcile import reconcile
from events.services.sending import send_due
from events.services.sweeper import sweep
from providers.kinds import KINDS
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


def send(config, n=1):
    for i in range(n):
        publish_event(event_type="OrderPlaced", source="com.test", data={"n": i}, providers=[config], ring=False)
    send_due(provider_id=config.pk)


@pytest.mark.parametrize("kind", sorted(kind for kind, spec in KINDS.items() if spec.round_trip))
def test_each_clouds_simulated_push_confirms_the_delivery(make_provider, make_receiver, kind):
    config = make_provider(f"demo-{kind[:3]}", kind)
    make_receiver(config, demo_arrival_seconds=0)
    send(config)  # the send task delivers what is due once it has nothing left to send
    assert sweep().demo_arrivals == 0
    delivery = Delivery.objects.get()
    receipt = Receipt.objects.get()
    assert (receipt.event_id, receipt.delivery, receipt.arrivals) == (delivery.event_id, delivery, 1)
    assert delivery.confirmed_via.startswith(f"{config.get_kind_display()} receiver, simulated by demo mode")
    assert DemoArrival.objects.count() == 0


def test_arrivals_wait_for_their_delay(make_provider, make_receiver):
    config = make_provider("demo-gcp", "gcp_pubsub")
    make_receiver(config, demo_arrival_seconds=3600)
    send(config)
    assert DemoArrival.objects.count() == 1
    assert sweep().demo_arrivals == 0 and Receipt.objects.count() == 0
    DemoArrival.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    assert sweep().demo_arrivals == 1  # the minute's sweep delivers what is due
    assert Receipt.objects.count() == 1 and DemoArrival.objects.count() == 0


def test_lost_and_duplicated_arrivals_are_what_reconciliation_reports(make_provider, make_receiver):
    lossy = make_provider("lossy", "azure_eventgrid")
    make_receiver(lossy, demo_arrival_seconds=0, demo_loss_rate=1.0)
    doubled = make_provider("doubled", "aws_eventbridge")
    make_receiver(
        doubled, auth="api_key", secret_env="TEST_RECEIVER_API_KEY", demo_arrival_seconds=0, demo_duplicate_rate=1.0
    )
    send(lossy, 3)
    send(doubled, 2)
    sweep()
    assert Receipt.objects.filter(provider=lossy).count() == 0
    assert list(Receipt.objects.filter(provider=doubled).values_list("arrivals", flat=True)) == [2, 2]
    Delivery.objects.update(completed_at=timezone.now() - timedelta(hours=1))  # past the grace period
    since = timezone.now() - timedelta(hours=2)
    assert reconcile(provider=lossy, since=since).missing == 3
    assert reconcile(provider=doubled, since=since).duplicated == 2


def test_a_demo_receiver_needs_no_secret_and_reconcile_now_explains_receivers(admin_client, demo_providers):
    page = admin_client.get(reverse("admin:events_reconciliationreport_run")).content.decode()
    assert "No provider config has a round-trip receiver yet" in page
    from providers.models import ReceiverSettings

    receiver = ReceiverSettings(provider=demo_providers[0])
    receiver.full_clean()  # demo: no secret variable needed
    receiver.save()
    page = admin_client.get(reverse("admin:events_reconciliationreport_run")).content.decode()
    assert "No provider config has a round-trip receiver yet" not in page


def test_the_event_page_keeps_watching_until_the_event_came_back(admin_client, make_provider, make_receiver):
    config = make_provider("demo-grid", "azure_eventgrid")
    make_receiver(config, demo_arrival_seconds=3600)
    send(config)
    event_id = Delivery.objects.get().event_id
    status = admin_client.get(reverse("admin:events_event_status", args=[event_id])).json()
    assert (status["all_final"], status["awaiting_round_trip"]) == (True, True)
    DemoArrival.objects.update(due_at=timezone.now())
    sweep()
    status = admin_client.get(reverse("admin:events_event_status", args=[event_id])).json()
    assert status["awaiting_round_trip"] is False
    assert status["deliveries"][0]["confirmed"].startswith("confirmed ")
