"""Publishing, claiming, sending, recording and sweeping deliveries."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from events.models import Delivery, DeliveryAttempt, Event
from events.services.sending import claim_due, send_due
from events.services.sweeper import sweep
from events.services.validation import PublishRejected, Refusal
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db

ORDER = {"order_id": "o-1", "amount": 12.5}


def publish(providers, **kwargs):
    return publish_event(event_type="OrderPlaced", source="com.test", data=ORDER, providers=providers, **kwargs)


def test_publish_creates_event_deliveries_and_one_task_per_provider_together(demo_providers):
    event = publish(demo_providers)
    deliveries = list(event.deliveries.order_by("provider__name"))
    assert [d.provider.name for d in deliveries] == ["aws-demo", "azure-demo", "gcp-demo"]
    assert {d.status for d in deliveries} == {"pending"}
    assert {d.mode for d in deliveries} == {"demo"}
    queued = sorted(task.task["args"] for task in OrmQ.objects.all())
    assert queued == sorted((p.pk,) for p in demo_providers)


def test_publish_rolls_back_with_the_callers_transaction(demo_providers):
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(demo_providers)
        raise RuntimeError("caller failed after publishing")
    assert (Event.objects.count(), Delivery.objects.count(), OrmQ.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [([1, 2], "must be a JSON object ({…}), not an array"), ("x", "not a string"), (None, "not null")],
)
def test_non_object_data_is_rejected_and_nothing_created(demo_providers, data, message):
    with pytest.raises(PublishRejected) as rejected:
        publish_event(event_type="T", source="s", data=data, providers=demo_providers)
    assert message in str(rejected.value)
    assert (Event.objects.count(), OrmQ.objects.count()) == (0, 0)


def test_no_provider_and_disabled_provider_are_rejected(demo_providers):
    with pytest.raises(PublishRejected, match="No route matches this event and it names no provider config") as no:
        publish([])
    assert no.value.refusal == Refusal.UNROUTED
    demo_providers[0].enabled = False
    demo_providers[0].save()
    with pytest.raises(PublishRejected, match="aws-demo is disabled"):
        publish(demo_providers)
    assert Event.objects.count() == 0


def test_payload_over_one_providers_limit_names_it_and_creates_nothing(make_provider):
    aws = make_provider("aws-small", "aws_eventbridge", aws_max_entry_bytes=1024)
    gcp = make_provider("gcp", "gcp_pubsub")
    with pytest.raises(PublishRejected) as rejected:
        publish_event(event_type="T", source="s", data={"pad": "x" * 2000}, providers=[aws, gcp])
    assert len(rejected.value.errors) == 1
    assert rejected.value.errors[0].startswith("aws-small: The EventBridge entry is")
    assert (Event.objects.count(), Delivery.objects.count(), OrmQ.objects.count()) == (0, 0, 0)


def test_sync_worker_delivers_and_records_one_attempt_each(demo_providers, sync_tasks):
    event = publish(demo_providers)
    for delivery in event.deliveries.all():
        assert delivery.status == "succeeded"
        assert delivery.attempts == 1
        assert delivery.provider_message_id
        assert delivery.completed_at is not None
        attempt = delivery.attempt_log.get()
        assert (attempt.number, attempt.outcome, attempt.mode) == (1, "succeeded", "demo")
        assert attempt.provider_message_id == delivery.provider_message_id


def test_retryable_failure_schedules_a_retry_with_backoff(make_provider):
    config = make_provider("flaky", "gcp_pubsub", demo_failure_rate=1.0)
    event = publish([config])
    send_due(provider_id=config.pk)
    delivery = event.deliveries.get()
    assert delivery.status == "retrying"
    assert delivery.last_error_code == "UNAVAILABLE"
    assert delivery.next_attempt_at > delivery.attempt_log.get().finished_at - timedelta(seconds=1)
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=2)  # first backoff ≤ 2 s
    assert delivery.lease_expires_at is None and delivery.claim_token is None


def test_retries_end_dead_after_max_attempts_then_success_is_never_tried(make_provider):
    config = make_provider("flaky", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=3)
    event = publish([config])
    for _ in range(3):
        Delivery.objects.update(next_attempt_at=timezone.now())
        send_due(provider_id=config.pk)
    delivery = event.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("dead", 3)
    assert list(delivery.attempt_log.values_list("number", flat=True)) == [1, 2, 3]
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert send_due(provider_id=config.pk).claimed == 0


def test_retry_then_success_keeps_the_attempt_history(make_provider):
    config = make_provider("flaky", "aws_eventbridge", demo_failure_rate=1.0)
    event = publish([config])
    send_due(provider_id=config.pk)
    config.demo_failure_rate = 0.0
    config.save()
    Delivery.objects.update(next_attempt_at=timezone.now())
    send_due(provider_id=config.pk)
    delivery = event.deliveries.get()
    assert delivery.status == "succeeded"
    assert list(delivery.attempt_log.values_list("outcome", flat=True)) == ["retryable_error", "succeeded"]


def test_deliveries_not_yet_due_are_not_claimed(make_provider):
    config = make_provider("p", "gcp_pubsub")
    publish([config])
    Delivery.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert send_due(provider_id=config.pk).claimed == 0


def test_a_claimed_delivery_cannot_be_claimed_again(make_provider):
    config = make_provider("p", "gcp_pubsub")
    for _ in range(3):
        publish([config])
    _, first = claim_due(provider_id=config.pk, limit=2)
    _, second = claim_due(provider_id=config.pk, limit=10)
    _, third = claim_due(provider_id=config.pk, limit=10)
    assert len(first) == 2 and len(second) == 1 and third == []
    assert not {d.pk for d in first} & {d.pk for d in second}


def test_disabled_provider_keeps_its_deliveries_waiting(make_provider):
    config = make_provider("p", "gcp_pubsub")
    event = publish([config])
    config.enabled = False
    config.save()
    assert send_due(provider_id=config.pk).claimed == 0
    assert event.deliveries.get().status == "pending"


def test_sweeper_recovers_an_expired_lease_as_an_unknown_attempt(make_provider):
    config = make_provider("p", "gcp_pubsub")
    event = publish([config])
    claim_due(provider_id=config.pk, limit=10)  # the worker dies here
    Delivery.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    OrmQ.objects.all().delete()
    report = sweep()
    assert report.leases_recovered == 1
    assert report.providers_rung == [config.pk]
    assert OrmQ.objects.count() == 1
    delivery = event.deliveries.get()
    assert delivery.status == "retrying" and delivery.next_attempt_at <= timezone.now()
    attempt = delivery.attempt_log.get()
    assert (attempt.outcome, attempt.error_code) == ("unknown", "LeaseExpired")
    send_due(provider_id=config.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_sweeper_rings_for_pending_deliveries_whose_task_was_lost(make_provider):
    config = make_provider("p", "gcp_pubsub")
    publish([config])
    OrmQ.objects.all().delete()  # the broker lost the doorbell
    assert sweep().providers_rung == [config.pk]
    assert [task.task["args"] for task in OrmQ.objects.all()] == [(config.pk,)]


def test_a_late_result_after_lease_recovery_does_not_overwrite_history(make_provider):
    config = make_provider("p", "gcp_pubsub")
    event = publish([config])
    token, claimed = claim_due(provider_id=config.pk, limit=10)
    Delivery.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    sweep()
    from events.services.sending import send_claimed

    assert send_claimed(config=config, token=token, deliveries=claimed) == ["lease_lost"]
    assert DeliveryAttempt.objects.filter(delivery__event=event).count() == 1


def test_sweeper_schedule_exists_after_migrate():
    schedule = Schedule.objects.get(name="helios-sweeper")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "events.tasks.sweep",
        Schedule.MINUTES,
        1,
        -1,
    )


def test_a_request_of_many_events_is_all_or_nothing_and_numbers_bad_events(demo_providers):
    from events.services.publishing import EventSpec
    from tests.publishing import publish_specs

    good = EventSpec(event_type="T", source="s", data={"a": 1})
    with pytest.raises(PublishRejected) as rejected:
        publish_specs([good, EventSpec(event_type="T", source="s", data=[1]), good], demo_providers)
    assert rejected.value.errors == ["event 2: The event data must be a JSON object ({…}), not an array."]
    assert (Event.objects.count(), Delivery.objects.count(), OrmQ.objects.count()) == (0, 0, 0)
    events = publish_specs([good] * 5, demo_providers)
    assert len(events) == 5 and Delivery.objects.count() == 15
    assert OrmQ.objects.count() == 3  # one doorbell per provider


def test_a_task_never_retries_what_failed_in_it_whatever_the_backoff(make_provider, monkeypatch):
    """Full jitter can draw a ~0 s backoff: the failed delivery is then due at once, but it is a
    later task's (after its backoff), not a second attempt of this one."""
    from events.services import outcomes

    monkeypatch.setattr(outcomes, "backoff_seconds", lambda attempts: 0.0)
    config = make_provider("flaky", "gcp_pubsub", demo_failure_rate=1.0)
    event = publish([config])
    send_due(provider_id=config.pk)
    delivery = event.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    send_due(provider_id=config.pk)  # the next task: due now, tried again
    delivery.refresh_from_db()
    assert delivery.attempts == 2
