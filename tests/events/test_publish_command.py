"""`manage.py publish`: output, exit status, and nothing created on bad arguments."""

import io

import pytest
from django.core.management import CommandError, call_command
from django_q.models import OrmQ

from events.models import Delivery, Event
from events.services import sending

pytestmark = pytest.mark.django_db


def publish(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("publish", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def assert_nothing_created():
    assert (Event.objects.count(), Delivery.objects.count(), OrmQ.objects.count()) == (0, 0, 0)


def test_sync_to_all_prints_three_successes_and_exits_0(demo_providers):
    code, out = publish("--provider", "all", "--sync", "--order-id", "o-9", "--amount", "19.9", "--customer-id", "c-1")
    event = Event.objects.get()
    assert code == 0
    assert out.splitlines()[0].startswith(f"Event {event.id}  type=OrderPlaced")
    assert out.count("SUCCESS  message id") == 3
    assert "3 deliveries: 3 succeeded" in out
    assert event.data == {"order_id": "o-9", "amount": 19.9, "customer_id": "c-1"}
    for delivery in event.deliveries.all():
        assert delivery.provider_message_id in out


def test_kind_aliases_and_names_choose_providers_once_each(demo_providers):
    code, _ = publish("--provider", "aws", "--provider", "gcp-demo", "--provider", "gcp", "--sync")
    assert code == 0
    assert sorted(Delivery.objects.values_list("provider__name", flat=True)) == ["aws-demo", "gcp-demo"]


def test_a_failing_provider_is_reported_in_words_and_exits_1(make_provider):
    make_provider("aws-ok", "aws_eventbridge")
    make_provider("gcp-down", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=1)
    code, out = publish("--provider", "all", "--sync", "--data", '{"order_id": "o-1"}')
    assert code == 1
    assert "SUCCESS" in out
    assert "FAILED   UNAVAILABLE: The service is currently unavailable (simulated by demo mode)." in out
    assert "2 deliveries: 1 dead, 1 succeeded" in out


def test_sync_follows_retries_until_success(make_provider, monkeypatch):
    config = make_provider("gcp", "gcp_pubsub", demo_failure_rate=1.0)
    original = sending.send_claimed

    def heal_after_first_attempt(**kwargs):
        outcomes = original(**kwargs)
        config.demo_failure_rate = 0.0
        config.save()  # the operator fixes the rehearsal: the worker's client is rebuilt
        return outcomes

    monkeypatch.setattr(sending, "send_claimed", heal_after_first_attempt)
    code, out = publish("--provider", "gcp", "--sync", "--timeout", "10")
    assert code == 0, out
    assert "SUCCESS" in out and "attempt 2" in out


def test_without_wait_the_event_is_queued_and_exits_0(demo_providers):
    code, out = publish("--provider", "all")
    assert code == 0
    assert out.count("QUEUED") == 3
    assert OrmQ.objects.count() == 3


def test_wait_times_out_when_no_worker_runs(demo_providers):
    code, out = publish("--provider", "aws", "--wait", "--timeout", "0.3")
    assert code == 1
    assert "not final in time: still pending" in out
    assert "1 delivery: 1 pending" in out


def test_a_wait_names_the_open_circuit_that_holds_the_delivery(demo_providers):
    from providers.models import ProviderRuntime

    aws = next(config for config in demo_providers if config.name == "aws-demo")
    ProviderRuntime.objects.create(
        provider=aws,
        circuit_state="open",
        circuit_reason="5 failures in a row",
        circuit_changed_at="2026-11-27T20:13:35Z",
    )
    code, out = publish("--provider", "aws", "--wait", "--timeout", "0.3")
    assert code == 1
    assert "The circuit is open since 20:13:35 UTC (5 failures in a row): nothing is sent until 20:14:05 UTC" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "nope"], "Unknown provider 'nope'"),
        (["--provider", "all", "--data", '{"a": '], "--data: Invalid JSON at line 1, column 7"),
        (["--provider", "all", "--data", "[1]"], "--data: The event data must be a JSON object ({…}), not an array"),
        (["--provider", "all", "--data", '{"pad": "' + "x" * 300_000 + '"}'], "aws-demo: The EventBridge entry is"),
        (
            ["--data", "{}"],
            "No route matches this event: say where to send it with --provider aws|gcp|azure|webhook|all|NAME "
            "(enabled configs",
        ),
    ],
)
def test_bad_arguments_exit_2_and_create_nothing(demo_providers, args, message):
    with pytest.raises(CommandError) as error:
        call_command("publish", *args, stdout=io.StringIO())
    assert error.value.returncode == 2
    assert message in str(error.value)
    assert_nothing_created()


def test_a_kind_with_no_enabled_config_exits_2(make_provider):
    make_provider("aws-only", "aws_eventbridge")
    with pytest.raises(CommandError, match="No enabled provider config matches 'azure'") as error:
        call_command("publish", "--provider", "azure", stdout=io.StringIO())
    assert error.value.returncode == 2


def test_without_provider_the_routes_decide(demo_providers):
    from events.models import Route

    route = Route.objects.create(name="orders", filter={"prefix": {"type": "Order"}})
    route.providers.set([next(c for c in demo_providers if c.name == "gcp-demo")])
    code, out = publish("--sync", "--order-id", "o-1")
    assert code == 0, out
    assert list(Delivery.objects.values_list("provider__name", "route__name")) == [("gcp-demo", "orders")]
