"""End to end over the stand-ins: publish for real (production mode, a real worker), each cloud
pushes the events back to HELIOS's receivers, every delivery is confirmed, reconciliation is clean.

- EventBridge: moto routes the events to SQS with a rule; `relay_sqs` plays the API destination.
- Pub/Sub: the gRPC stand-in pushes each message with an OIDC token from the test issuer.
- Event Grid: the sink forwards each accepted request to the webhook receiver.
"""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Delivery
from events.services.reconcile import reconcile
from tests.conftest import RECEIVER_API_KEY, RECEIVER_TOKEN
from tests.publishing import publish_event
from tests.standins import relay_sqs

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
EVENTS = 5


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_every_delivery_comes_back_and_is_confirmed(
    live_server,
    production_providers,
    make_receiver,
    oidc_issuer,
    eventbridge_target,
    pubsub_standin,
    eventgrid_sink,
    qcluster,
):
    aws, gcp, azure = (production_providers[k] for k in ("aws_eventbridge", "gcp_pubsub", "azure_eventgrid"))
    make_receiver(aws, auth="api_key", secret_env="TEST_RECEIVER_API_KEY")
    pubsub_url = live_server.url + reverse("receive_pubsub", args=[gcp.pk])
    make_receiver(gcp, auth="oidc", secret_env="", oidc_audience=pubsub_url, oidc_certs_url=oidc_issuer.certs_url)
    make_receiver(azure)
    pubsub_standin.push_endpoint = pubsub_url
    pubsub_standin.push_headers = lambda: {"Authorization": f"Bearer {oidc_issuer.token(pubsub_url)}"}
    grid_url = live_server.url + reverse("receive_eventgrid", args=[azure.pk])
    eventgrid_sink.forward_to = f"{grid_url}?token={RECEIVER_TOKEN}"

    events = [
        publish_event(
            event_type="OrderPlaced",
            source="com.test",
            subject=f"orders/{n}",
            data={"n": n},
            providers=[aws, gcp, azure],
        )
        for n in range(EVENTS)
    ]
    wait_until(lambda: Delivery.objects.filter(status="succeeded").count() == 3 * EVENTS)
    bridge_url = live_server.url + reverse("receive_eventbridge", args=[aws.pk])
    relayed = relay_sqs(
        eventbridge_target.sqs, eventbridge_target.queue_url, bridge_url, {"x-api-key": RECEIVER_API_KEY}, EVENTS
    )
    assert relayed == EVENTS
    wait_until(lambda: Delivery.objects.filter(confirmed_at__isnull=False).count() == 3 * EVENTS)

    for delivery in Delivery.objects.prefetch_related("attempt_log"):
        # Back after it was sent; not necessarily after the worker recorded the cloud's answer: the
        # cloud may push the event on before the publish call returns (it did, under load).
        assert delivery.confirmed_at >= min(a.started_at for a in delivery.attempt_log.all())
    assert set(Delivery.objects.filter(provider=gcp).values_list("confirmed_via", flat=True)) == {
        "GCP Pub/Sub receiver (projects/helios-test/subscriptions/helios-roundtrip)"
    }
    assert set(Delivery.objects.filter(provider=azure).values_list("confirmed_via", flat=True)) == {
        "Azure Event Grid receiver (HELIOS-ROUNDTRIP)"
    }
    assert {e.id for e in events} == set(Delivery.objects.filter(provider=aws).values_list("event_id", flat=True))
    for config in (aws, gcp, azure):
        report = reconcile(provider=config, since=timezone.now() - timedelta(hours=1), grace_seconds=0)
        assert (report.sent, report.received, report.clean_result) == (EVENTS, EVENTS, True), config.name
