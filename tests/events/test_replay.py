"""Replay a window: the filters choose the events, a dry run sends nothing, production needs the
named confirmation, the replay works in batches from its cursor (resumable), skips deliveries
still on their way, can be cancelled, and the CLI reports with its exit codes."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.models import AuditAction, AuditEntry
from events.models import Delivery, DeliveryAttempt, Event, Replay, ReplayState, Resend
from events.services.replay import ReplayFilter, cancel_replay, dry_run, run_replay, start_replay
from events.services.sending import send_due
from events.services.validation import PublishRejected
from providers.production import ProductionGrant
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(demo_providers):
    """Six events to aws-demo, all succeeded: three OrderPlaced (orders/…), two OrderCancelled,
    one OrderPlaced an hour older than the rest."""
    aws = next(p for p in demo_providers if p.name == "aws-demo")
    events = [
        publish_event(
            event_type=kind, source="com.shop", subject=f"orders/o-{n}", data={"n": n}, providers=[aws], ring=False
        )
        for n, kind in enumerate(["OrderPlaced"] * 3 + ["OrderCancelled"] * 2 + ["OrderPlaced"])
    ]
    Event.objects.filter(pk=events[-1].pk).update(created_at=timezone.now() - timedelta(hours=1))
    send_due(provider_id=aws.pk)
    return events


def window(**filters) -> ReplayFilter:
    return ReplayFilter(
        since=timezone.now() - timedelta(minutes=30), until=timezone.now() + timedelta(seconds=1), **filters
    )


def test_the_filters_choose_the_events_and_a_dry_run_sends_nothing(sent):
    assert dry_run(window())[0] == 5
    count, sample = dry_run(window(event_type="OrderPlaced", subject_prefix="orders/o-1"))
    assert (count, [e.pk for e in sample]) == (1, [sent[1].pk])
    assert dry_run(window(provider="aws-demo", status="succeeded"))[0] == 5
    assert dry_run(window(provider="gcp-demo"))[0] == 0
    assert dry_run(ReplayFilter(since=timezone.now() - timedelta(hours=2), until=timezone.now()))[0] == 6
    assert DeliveryAttempt.objects.count() == 6 and not Replay.objects.exists()


def test_a_replay_sends_again_with_the_same_ids_in_batches_from_its_cursor(sent, demo_providers):
    aws, gcp = (next(p for p in demo_providers if p.name == name) for name in ("aws-demo", "gcp-demo"))
    replay = start_replay(window(event_type="OrderPlaced"), [aws, gcp], rate_per_second=2)
    assert (replay.total, replay.state) == (3, ReplayState.QUEUED)
    first = run_replay(replay.pk, budget_seconds=0)  # one batch, then a new task goes on from the cursor
    assert (first.done, first.state, first.cursor_event_id) == (2, ReplayState.RUNNING, sent[1].pk)
    done = run_replay(replay.pk, budget_seconds=0)
    done = run_replay(replay.pk, budget_seconds=0)
    assert (done.state, done.done, done.sent, done.skipped) == (ReplayState.DONE, 3, 6, 0)
    replayed = [e.pk for e in sent[:3]]
    again = Delivery.objects.filter(event__in=replayed, provider=aws)
    assert set(again.values_list("status", flat=True)) == {"retrying"}  # made due again: same delivery, same event
    assert Delivery.objects.filter(event__in=replayed, provider=gcp, status="pending").count() == 3
    assert Resend.objects.filter(replay=replay).count() == 6
    send_due(provider_id=aws.pk)
    assert [a.number for a in DeliveryAttempt.objects.filter(delivery=again.first())] == [1, 2]
    assert AuditEntry.objects.filter(action=AuditAction.REPLAY, target=f"replay #{replay.pk}").exists()


def test_a_delivery_still_on_its_way_is_skipped(sent, demo_providers):
    aws = next(p for p in demo_providers if p.name == "aws-demo")
    Delivery.objects.filter(event=sent[0]).update(status="retrying")
    replay = start_replay(window(subject_prefix="orders/o-0"), [aws])
    replay = run_replay(replay.pk, budget_seconds=0)
    assert (replay.state, replay.sent, replay.skipped) == (ReplayState.DONE, 0, 1)


def test_refusals_create_nothing_and_production_needs_the_named_confirmation(sent, production_providers):
    grid = production_providers["azure_eventgrid"]
    with pytest.raises(PublishRejected) as refused:
        start_replay(window(), [grid])
    assert refused.value.errors == [
        "This sends to PRODUCTION: azure-prod. Confirm with exactly these names to send for real."
    ]
    with pytest.raises(PublishRejected) as empty:
        start_replay(window(event_type="Nothing"), [grid], grant=ProductionGrant.typed("azure-prod"))
    assert empty.value.errors[0].startswith("No event matches: events created")
    assert not Replay.objects.exists()
    assert start_replay(window(), [grid], grant=ProductionGrant.typed("azure-prod")).total == 5


def test_a_cancelled_replay_stops_before_its_next_batch(sent, demo_providers):
    gcp = next(p for p in demo_providers if p.name == "gcp-demo")
    replay = start_replay(window(), [gcp], rate_per_second=2)
    run_replay(replay.pk, budget_seconds=0)
    cancel_replay(replay)
    replay = run_replay(replay.pk, budget_seconds=0)
    assert (replay.state, replay.done) == (ReplayState.CANCELLED, 2)
    assert Delivery.objects.filter(provider=gcp).count() == 2
    assert AuditEntry.objects.filter(action=AuditAction.REPLAY_CANCEL).count() == 1


def test_the_cli_dry_run_replay_and_exit_codes(sent, production_providers):
    out = io.StringIO()
    call_command("replay", "--since", "30m", "--type", "OrderCancelled", "--dry-run", stdout=out)
    assert out.getvalue().startswith("2 events match: events created")
    assert out.getvalue().rstrip().endswith("Dry run: nothing was sent.")
    assert not Replay.objects.exists()

    with pytest.raises(CommandError) as production:
        call_command("replay", "--since", "30m", "--to", "azure-prod", stdout=io.StringIO())
    assert production.value.returncode == 2 and "Add --yes to confirm" in str(production.value)
    with pytest.raises(CommandError) as unknown:
        call_command("replay", "--since", "30m", "--to", "nowhere", stdout=io.StringIO())
    assert unknown.value.returncode == 2 and "Unknown provider config(s): nowhere" in str(unknown.value)
    with pytest.raises(CommandError) as bad_time:
        call_command("replay", "--since", "yesterday", "--to", "azure-prod", stdout=io.StringIO())
    assert bad_time.value.returncode == 2 and "give an ISO 8601 time" in str(bad_time.value)

    out = io.StringIO()
    call_command("replay", "--since", "30m", "--to", "azure-prod", "--yes", "--rate", "10", stdout=out)
    replay = Replay.objects.get()
    assert f"Replay #{replay.pk} queued: 5 events to azure-prod at 10 a second." in out.getvalue()


def test_the_console_dry_runs_starts_shows_progress_and_cancels(admin_client, sent, demo_providers):
    from django.urls import reverse

    gcp = next(p for p in demo_providers if p.name == "gcp-demo")
    form = {
        "since": (timezone.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"),
        "until": (timezone.now() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        "event_type": "OrderCancelled",
        "status": "succeeded",
        "providers": [gcp.pk],
        "rate_per_second": 10,
    }
    add = reverse("admin:events_replay_add")
    page = admin_client.post(add, {**form, "_dry_run": "1"}).content.decode()
    assert 'data-count="2"' in page and str(sent[3].pk) in page and not Replay.objects.exists()
    response = admin_client.post(add, {**form, "_start": "1"})
    replay = Replay.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:events_replay_change", args=[replay.pk]
    )
    progress = admin_client.get(reverse("admin:events_replay_progress", args=[replay.pk])).json()
    assert (progress["state"], progress["total"], progress["done"], progress["final"]) == ("queued", 2, 0, False)
    assert "Cancel the replay" in admin_client.get(response["Location"]).content.decode()
    admin_client.post(reverse("admin:events_replay_cancel", args=[replay.pk]))
    assert run_replay(replay.pk, budget_seconds=0).state == ReplayState.CANCELLED
    listed = admin_client.get(reverse("admin:events_replay_changelist")).content.decode()
    assert "0 of 2 events (0 %)" in listed and "cancelled" in listed
    deliveries = admin_client.get(
        reverse("admin:events_delivery_changelist"), {"resends__replay__id__exact": replay.pk}
    )
    assert deliveries.status_code == 200


def test_a_publisher_may_not_replay(client, sent):
    from django.contrib.auth.models import Group, User
    from django.urls import reverse

    publisher = User.objects.create_user("pub", password="pw", is_staff=True)
    publisher.groups.add(Group.objects.get(name="Publisher"))
    client.force_login(publisher)
    assert client.get(reverse("admin:events_replay_add")).status_code == 403


def test_the_event_page_says_which_replay_sent_it_again(admin_client, sent, demo_providers):
    from django.urls import reverse

    aws = next(p for p in demo_providers if p.name == "aws-demo")
    replay = start_replay(window(subject_prefix="orders/o-2"), [aws])
    run_replay(replay.pk, budget_seconds=0)
    page = admin_client.get(reverse("admin:events_event_change", args=[sent[2].pk])).content.decode()
    assert 'id="helios-resends"' in page and f'data-reason="replay #{replay.pk}"' in page
    other = admin_client.get(reverse("admin:events_event_change", args=[sent[0].pk])).content.decode()
    assert 'id="helios-resends"' not in other


def test_a_replay_whose_task_was_lost_is_queued_again_by_the_sweeper(sent, demo_providers):
    from django_q.models import OrmQ

    from events.services.sweeper import sweep

    gcp = next(p for p in demo_providers if p.name == "gcp-demo")
    replay = start_replay(window(), [gcp], rate_per_second=2)
    run_replay(replay.pk, budget_seconds=0)
    OrmQ.objects.all().delete()  # the continuation task is lost
    assert sweep().replays_resumed == []  # it moved a moment ago
    Replay.objects.filter(pk=replay.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert sweep().replays_resumed == [replay.pk]
    assert run_replay(replay.pk, budget_seconds=0).done == 4  # on from its cursor: nothing twice
    assert Delivery.objects.filter(provider=gcp).count() == 4
