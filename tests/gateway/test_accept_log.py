"""The accept log: a 202 is durable before anything is made; the worker expands accepted requests
once, in sets; a lost expansion is picked up by the schedule; the operations home and /metrics
show what waits."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from core.heartbeat import beat
from events.models import Delivery, Event
from gateway.expansion import expand_accepted
from gateway.models import AcceptedRequest, ApiEvent
from gateway.tasks import expand_accepted_requests

pytestmark = pytest.mark.django_db
ORDER = {"type": "OrderPlaced", "source": "com.example.orders", "data": {}, "providers": ["aws-demo", "gcp-demo"]}


@pytest.fixture
def key(make_key, demo_providers):
    return make_key(providers=[c for c in demo_providers if c.name in ("aws-demo", "gcp-demo")])


def test_an_accept_writes_the_request_and_nothing_else_until_expansion(api_post, key):
    response = api_post(key.secret, [ORDER] * 3)
    assert response.status_code == 202
    ids = [e["id"] for e in response.json()["events"]]
    accepted = AcceptedRequest.objects.get()
    assert accepted.expanded_at is None and accepted.api_key == key.key
    assert sorted(str(pk) for pk in ApiEvent.objects.values_list("event_id", flat=True)) == sorted(ids)
    assert Event.objects.count() == 0 and Delivery.objects.count() == 0
    assert expand_accepted_requests() == 1  # what the queued task runs
    assert sorted(str(pk) for pk in Event.objects.values_list("id", flat=True)) == sorted(ids)
    assert Delivery.objects.count() == 6
    accepted.refresh_from_db()
    assert accepted.expanded_at is not None


def test_the_worker_task_sends_what_it_expanded_without_a_second_task(api_post, key):
    """One hop: the expansion task sends its new deliveries itself; no send task is queued."""
    for n in range(3):
        assert api_post(key.secret, {**ORDER, "subject": f"o-{n}"}).status_code == 202
    OrmQ.objects.all().delete()  # the accepts' expansion task: run below as the worker would
    assert expand_accepted_requests() == 3
    assert sorted(Delivery.objects.values_list("status", "attempts")) == [("succeeded", 1)] * 6
    assert OrmQ.objects.count() == 0


def test_an_expansion_out_of_time_hands_its_sends_to_send_tasks(api_post, key):
    assert api_post(key.secret, ORDER).status_code == 202
    OrmQ.objects.all().delete()
    assert expand_accepted(budget_seconds=0, send=True) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    assert OrmQ.objects.count() == 2  # one doorbell per config


def test_requests_to_the_same_configs_expand_in_one_set(api_post, key):
    """As many statements for 20 requests as for 5: one set, whatever its size (PostgreSQL's
    COPY is not among the captured statements; SQLite's multi-row INSERTs are). The first
    expansion also makes each provider's doorbell: not measured."""
    statements = {}
    for requests in (1, 5, 20):
        for n in range(requests):
            assert api_post(key.secret, {**ORDER, "subject": f"o-{n}"}).status_code == 202
        with CaptureQueriesContext(connection) as one_set:
            assert expand_accepted() == requests
        statements[requests] = len(one_set.captured_queries)
    assert statements[20] == statements[5]
    assert Event.objects.count() == 26 and Delivery.objects.count() == 52
    assert set(Delivery.objects.values_list("status", "attempts", "last_error", "provider_message_id")) == {
        ("pending", 0, "", "")
    }


def test_a_lost_expansion_is_done_by_the_minute_schedule_and_never_twice(api_post, key):
    """The accept's task is lost (a broker wiped): the schedule expands; a late task finds nothing."""
    api_post(key.secret, ORDER)
    schedule = Schedule.objects.get(name="helios-expand-accepted")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "gateway.tasks.expand_accepted_requests",
        Schedule.MINUTES,
        1,
    )
    assert expand_accepted_requests() == 1
    assert expand_accepted_requests() == 0
    assert Event.objects.count() == 1 and Delivery.objects.count() == 2


def test_waiting_requests_need_attention_and_are_counted_in_metrics(api_post, key, admin_client, client):
    beat()
    api_post(key.secret, ORDER)
    home = admin_client.get(reverse("admin:index")).content.decode()
    assert "wait to become events" not in home  # just accepted: the worker is on it
    AcceptedRequest.objects.update(accepted_at=timezone.now() - timedelta(minutes=5))
    home = admin_client.get(reverse("admin:index")).content.decode()
    assert "1 accepted API request wait to become events" in home
    metrics = client.get("/metrics").content.decode()
    assert "helios_api_accepted_waiting 1.0" in metrics
    expand_accepted()
    assert "helios_api_accepted_waiting 0.0" in client.get("/metrics").content.decode()


def test_an_expanded_request_is_forgotten_after_the_idempotency_hours_and_its_events_stay(api_post, key, settings):
    from gateway.tasks import forget_idempotency_keys

    settings.HELIOS_API_IDEMPOTENCY_HOURS = 24
    event_id = api_post(key.secret, json.dumps(ORDER)).json()["events"][0]["id"]
    expand_accepted()
    AcceptedRequest.objects.update(expanded_at=timezone.now() - timedelta(hours=25))
    assert forget_idempotency_keys() == 1
    assert AcceptedRequest.objects.count() == 0
    assert str(Event.objects.get().id) == event_id and ApiEvent.objects.get().request is None


def test_an_expansion_task_stops_when_its_time_budget_is_spent_and_the_rest_waits(api_post, key):
    for n in range(3):
        api_post(key.secret, {**ORDER, "subject": f"o-{n}"})
    assert expand_accepted(limit=1, budget_seconds=-1) == 1  # one transaction's worth, then it yields
    assert AcceptedRequest.objects.filter(expanded_at__isnull=True).count() == 2
    assert expand_accepted() == 2


def test_accepts_ring_once_until_a_task_starts_and_nothing_waits_unrung(api_post, key):
    """Twenty accepts queue one expansion task; once it starts (answers the bell) the next
    accept queues another; each task expands all that waits."""
    from django_q.models import OrmQ

    from gateway.accept_log import EXPAND_TASK
    from gateway.models import ExpansionBell

    def expansion_tasks() -> int:
        return sum(queued.func() == EXPAND_TASK for queued in OrmQ.objects.all())

    for n in range(20):
        assert api_post(key.secret, {**ORDER, "subject": f"o-{n}"}).status_code == 202
    assert expansion_tasks() == 1 and ExpansionBell.objects.get(pk=1).pending
    assert expand_accepted_requests() == 20  # what the queued task runs: answers, then expands all
    assert not ExpansionBell.objects.get(pk=1).pending
    assert api_post(key.secret, ORDER).status_code == 202
    assert expansion_tasks() == 2  # rung again
    assert expand_accepted_requests() == 1
    assert Event.objects.count() == 21


def _waits_on_a_lock() -> bool:
    """Whether another connection waits on a lock now (pg_locks: current, not a snapshot)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()")
        return cursor.fetchone() is not None


def _in_a_thread(work) -> threading.Thread:
    """`work` on a connection of its own (a thread's), closed when it ends."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent transactions: PostgreSQL (SQLite serializes writers)"
)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_accepts_in_flight_do_not_wait_for_one_another(api_post, key):
    """Once a task is queued, an accept reads the bell without locking it: a second accept
    commits while the first is still open (they used to queue on the bell's row)."""
    assert api_post(key.secret, ORDER).status_code == 202  # rings: a task is queued
    answers = []

    def second_accept() -> None:
        headers = {"Authorization": f"Bearer {key.secret}"}
        answer = Client().post("/api/v1/events", ORDER, content_type="application/json", headers=headers)
        answers.append(answer.status_code)

    with transaction.atomic():  # the first accept, held open
        assert api_post(key.secret, {**ORDER, "subject": "held"}).status_code == 202
        second = _in_a_thread(second_accept)
        second.join(timeout=60)
        assert answers == [202], "the second accept waited for the first one's commit"
    assert AcceptedRequest.objects.count() == 3


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_task_starting_while_an_accept_is_in_flight_expands_it(api_post, key):
    """The race the bell guards: an accept that found a task queued, still uncommitted when the
    task starts. The task's answer waits for that commit, so its claim finds the request."""
    assert api_post(key.secret, ORDER).status_code == 202  # a task is queued
    expanded = []
    with transaction.atomic():
        assert api_post(key.secret, {**ORDER, "subject": "in flight"}).status_code == 202  # finds it queued
        task = _in_a_thread(lambda: expanded.append(expand_accepted_requests()))
        deadline = time.monotonic() + 60
        while not _waits_on_a_lock() and task.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert task.is_alive(), "the task answered the bell without waiting for the accept in flight"
    task.join(timeout=60)
    assert expanded == [2]
    assert Event.objects.filter(subject="in flight").exists()
