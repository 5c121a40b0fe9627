"""The pull round trip: HELIOS polls a subscription instead of waiting for a push, through each
cloud's real consumer SDK over a wire (Pub/Sub Subscriber on the gRPC stand-in, SQS behind an
EventBridge rule on moto, an Event Grid namespace stand-in). Pulled events become receipts like
pushed ones; a message HELIOS cannot parse is recorded as unexpected and settled; a cloud error
backs the poller off; one poller holds a subscription at a time."""

import re
from datetime import timedelta

import grpc
import pytest
from django.utils import timezone

from events.models import Delivery, Receipt
from events.services.polling import poll, queue_due_polls
from events.services.sending import send_due
from providers.models import PullState
from tests.conftest import EVENTGRID_TEST_KEY, PUBSUB_TOPIC, PULL_SUBSCRIPTION
from tests.publishing import publish_event
from tests.pull_standins import EventGridNamespace

pytestmark = pytest.mark.django_db


def send(config, count: int, source: str = "com.test.orders") -> list:
    events = [
        publish_event(event_type="OrderPlaced", source=source, data={"n": n}, providers=[config], ring=False)
        for n in range(count)
    ]
    send_due(provider_id=config.pk)
    assert Delivery.objects.filter(provider=config, status="succeeded").count() == count
    return events


def confirmed(config) -> list[str]:
    return list(
        Delivery.objects.filter(provider=config, confirmed_at__isnull=False).values_list("confirmed_via", flat=True)
    )


@pytest.fixture
def pubsub_pull(production_providers, pubsub_standin, make_receiver):
    config = production_providers["gcp_pubsub"]
    pubsub_standin.subscriber.add(PULL_SUBSCRIPTION, PUBSUB_TOPIC)
    make_receiver(config, method="pull", pull_subscription="helios-pull", auth="token", secret_env="")
    return config


def test_pubsub_pull_confirms_what_was_sent_and_acknowledges_it(pubsub_pull, pubsub_standin):
    send(pubsub_pull, 3)
    report = poll(pubsub_pull.pk, budget_seconds=20)
    assert (report.claimed, report.received, report.new, report.confirmed, report.error) == (True, 3, 3, 3, "")
    assert confirmed(pubsub_pull) == [f"Pub/Sub pull subscription ({PULL_SUBSCRIPTION})"] * 3
    subscription = pubsub_standin.subscriber.subscriptions[PULL_SUBSCRIPTION]
    assert (len(subscription.acknowledged), subscription.outstanding, len(subscription.waiting)) == (3, {}, 0)
    state = PullState.objects.get(provider=pubsub_pull)
    assert (state.received_total, state.consecutive_failures, state.lease_token) == (3, 0, "")


def test_a_message_pulled_again_is_a_duplicate_and_one_helios_cannot_parse_is_kept_as_unexpected(
    pubsub_pull, pubsub_standin
):
    from google.pubsub_v1 import types as pubsub_types

    send(pubsub_pull, 1)
    subscription = pubsub_standin.subscriber.subscriptions[PULL_SUBSCRIPTION]
    subscription.waiting.append(subscription.waiting[0])  # the cloud delivers it twice
    subscription.waiting.append(
        pubsub_types.PubsubMessage(data=b"{}", attributes={"ce-id": "bad\x00id"}, message_id="m-bad")
    )
    report = poll(pubsub_pull.pk, budget_seconds=20)
    assert (report.received, report.new, report.duplicates, report.unparsable) == (3, 2, 1, 1)
    unexpected = Receipt.objects.get(provider=pubsub_pull, event__isnull=True)
    assert unexpected.key == "message:m-bad" and "The ce-id attribute" in unexpected.body
    assert (len(subscription.acknowledged), subscription.outstanding) == (3, {})  # nothing is redelivered forever
    assert Receipt.objects.get(provider=pubsub_pull, event__isnull=False).arrivals == 2


def test_a_cloud_error_backs_the_poller_off_and_a_claimed_subscription_is_not_polled_twice(pubsub_pull, pubsub_standin):
    pubsub_standin.subscriber.fail_next_pull.append(grpc.StatusCode.PERMISSION_DENIED)
    report = poll(pubsub_pull.pk, budget_seconds=20)
    assert report.error.startswith(f"Pull from {PULL_SUBSCRIPTION} failed: PermissionDenied")
    state = PullState.objects.get(provider=pubsub_pull)
    assert state.consecutive_failures == 1 and state.last_error == report.error
    assert state.next_poll_at - state.last_error_at == timedelta(seconds=30)  # the first backoff
    pubsub_standin.subscriber.fail_next_pull.append(grpc.StatusCode.UNAVAILABLE)
    poll(pubsub_pull.pk, budget_seconds=20)
    state.refresh_from_db()
    assert state.consecutive_failures == 2 and state.next_poll_at - state.last_error_at == timedelta(seconds=60)
    assert queue_due_polls(now=timezone.now()) == []
    assert queue_due_polls(now=state.next_poll_at + timedelta(seconds=1)) == [pubsub_pull.pk]

    send(pubsub_pull, 1)
    PullState.objects.filter(provider=pubsub_pull).update(lease_until=timezone.now() + timedelta(minutes=1))
    calls = pubsub_standin.subscriber.pull_calls
    assert poll(pubsub_pull.pk, budget_seconds=20).claimed is False
    assert pubsub_standin.subscriber.pull_calls == calls  # another poller holds it: no call made
    PullState.objects.filter(provider=pubsub_pull).update(lease_until=None)
    again = poll(pubsub_pull.pk, budget_seconds=20)
    assert (again.confirmed, again.error) == (1, "")
    assert PullState.objects.get(provider=pubsub_pull).consecutive_failures == 0


def test_eventbridge_pull_reads_the_rules_sqs_queue_and_deletes_what_it_received(
    production_providers, eventbridge_target, make_receiver
):
    config = production_providers["aws_eventbridge"]
    make_receiver(
        config, method="pull", pull_subscription=eventbridge_target.queue_url, pull_wait_seconds=1, secret_env=""
    )
    send(config, 12)  # more than one receive call's 10
    eventbridge_target.sqs.send_message(QueueUrl=eventbridge_target.queue_url, MessageBody="not an event")
    report = poll(config.pk, budget_seconds=30)
    assert (report.received, report.confirmed, report.unparsable, report.error) == (13, 12, 1, "")
    assert len(confirmed(config)) == 12
    assert "EventBridge rule → SQS queue" in confirmed(config)[0]
    waiting = eventbridge_target.sqs.get_queue_attributes(
        QueueUrl=eventbridge_target.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert waiting == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


@pytest.fixture
def namespace():
    standin = EventGridNamespace(key=EVENTGRID_TEST_KEY)
    yield standin
    standin.stop()


def test_eventgrid_pull_acknowledges_its_events_and_rejects_what_it_cannot_parse(
    production_providers, eventgrid_sink, namespace, make_receiver
):
    config = production_providers["azure_eventgrid"]
    make_receiver(
        config,
        method="pull",
        pull_namespace_endpoint=namespace.endpoint,
        pull_namespace_topic=namespace.topic,
        pull_subscription=namespace.subscription,
        auth="api_key",
        secret_env="",
    )
    send(config, 2)
    namespace.enqueue(eventgrid_sink.accepted_events())  # what the namespace topic routed to the subscription
    namespace.enqueue([{"specversion": "1.0", "id": "x" * 300, "source": "s", "type": "t"}])
    report = poll(config.pk, budget_seconds=30)
    assert (report.received, report.confirmed, report.unparsable, report.error) == (3, 2, 1, "")
    assert (len(namespace.acknowledged), len(namespace.rejected), namespace.locked) == (2, 1, {})

    namespace.fail_next_receive.append(503)
    failed = poll(config.pk, budget_seconds=30)
    assert failed.error.startswith("Receive from orders/helios-roundtrip failed: HttpResponseError")


def test_demo_configs_and_push_receivers_are_not_polled(demo_providers, make_receiver, production_providers):
    demo = demo_providers[0]
    make_receiver(demo, method="pull", pull_subscription="anything", secret_env="")
    make_receiver(production_providers["gcp_pubsub"])  # push
    assert queue_due_polls() == []


def test_the_cloud_connection_test_covers_the_pull_subscription(pubsub_pull, pubsub_standin):
    from providers.checks import check_cloud

    passed = check_cloud(pubsub_pull)
    assert passed.ok and passed.message.endswith(f"pull subscription {PULL_SUBSCRIPTION} exists (topic {PUBSUB_TOPIC})")
    del pubsub_standin.subscriber.subscriptions[PULL_SUBSCRIPTION]
    failed = check_cloud(pubsub_pull)
    assert not failed.ok
    assert "the pull round trip cannot read its subscription: Reading the subscription" in failed.message
    assert "NotFound" in failed.message


def test_the_operations_home_shows_each_poller_and_a_failing_one_needs_attention(
    admin_client, pubsub_pull, pubsub_standin
):
    from django.urls import reverse

    section = reverse("admin:operations")
    send(pubsub_pull, 2)
    poll(pubsub_pull.pk, budget_seconds=20)
    page = admin_client.get(section).content.decode()
    assert re.search(r"pull: polled \d+ s ago, 2 received", page)
    pubsub_standin.subscriber.fail_next_pull.append(grpc.StatusCode.UNAVAILABLE)
    poll(pubsub_pull.pk, budget_seconds=20)
    page = admin_client.get(section).content.decode()
    start = page.find('id="helios-attention"')
    assert f"gcp-prod: pull failing (1 poll): Pull from {PULL_SUBSCRIPTION} failed: ServiceUnavailable" in page[start:]
