"""Reconciling by hand behaves as an operator predicts: the window never reaches before the
receiver was set up (and the report says so), the config's healing policy applies as after the
scheduled run, the report's page has its own *Resend missing events*, and the command says when a
config has no receiver (exit status 2)."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from events.models import Delivery, ReconciliationReport, Resend
from events.services.reconcile import reconcile
from events.services.sending import send_due
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


def send(config, count: int, *, minutes_ago: int) -> None:
    """Send `count` events to the config now, then date their sending `minutes_ago`."""
    started = timezone.now()
    for n in range(count):
        publish_event(event_type="OrderPlaced", source="com.test", data={"n": n}, providers=[config], ring=False)
    send_due(provider_id=config.pk)
    Delivery.objects.filter(provider=config, completed_at__gte=started).update(
        completed_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_events_sent_before_the_receiver_was_set_up_are_never_missing(make_provider, make_receiver):
    config = make_provider("grid", "azure_eventgrid")
    send(config, 7, minutes_ago=90)  # before the receiver existed
    set_up = timezone.now() - timedelta(minutes=60)
    make_receiver(config, grace_seconds=0, demo_loss_rate=1.0, created_at=set_up)
    send(config, 4, minutes_ago=30)
    report = reconcile(provider=config, since=timezone.now() - timedelta(hours=24))
    assert (report.sent, report.missing) == (4, 4)
    assert report.window_start == set_up
    assert report.window_note.startswith(f"Starts when the receiver was set up ({set_up:%Y-%m-%d %H:%M:%S} UTC)")
    inside = reconcile(provider=config, since=timezone.now() - timedelta(minutes=45))
    assert inside.window_note == "" and inside.missing == 4


def test_the_command_says_a_config_has_no_receiver_and_exits_2(make_provider, make_receiver):
    make_provider("bare", "aws_eventbridge")
    make_receiver(make_provider("grid", "azure_eventgrid"))
    with pytest.raises(CommandError) as refused:
        call_command("reconcile", "--provider", "bare")
    assert refused.value.returncode == 2
    assert str(refused.value) == (
        "bare has no receiver: nothing comes back to compare with. Set one up on the config's page "
        "(Round trip), or reconcile a config that has one: grid."
    )
    assert not ReconciliationReport.objects.exists()


def test_the_command_applies_automatic_healing_and_says_so(make_provider, make_receiver):
    config = make_provider("lossy", "gcp_pubsub")
    make_receiver(config, healing="automatic", demo_loss_rate=1.0, grace_seconds=0)
    send(config, 3, minutes_ago=10)
    out = io.StringIO()
    with pytest.raises(SystemExit) as status:
        call_command("reconcile", "--provider", "lossy", "--since", "1h", stdout=out)
    assert status.value.code == 1
    assert "  Healing (automatic): 3 missing events sent again." in out.getvalue()
    assert Resend.objects.count() == 3


def test_reconcile_now_heals_by_policy_and_the_report_page_resends(admin_client, make_provider, make_receiver):
    automatic = make_provider("lossy", "gcp_pubsub")
    make_receiver(automatic, healing="automatic", demo_loss_rate=1.0, grace_seconds=0)
    send(automatic, 2, minutes_ago=10)
    run = reverse("admin:events_reconciliationreport_run")
    page = admin_client.post(run, {"provider": automatic.pk, "hours": 1}, follow=True).content.decode()
    assert "done: 2 missing. Healing (automatic): 2 missing events sent again." in page
    assert Resend.objects.filter(delivery__provider=automatic).count() == 2

    suggesting = make_provider("grid", "azure_eventgrid")
    make_receiver(suggesting, healing="suggest", demo_loss_rate=1.0, grace_seconds=0)
    send(suggesting, 3, minutes_ago=10)
    page = admin_client.post(run, {"provider": suggesting.pk, "hours": 1}, follow=True)
    assert "Healing suggests resending for this config" in page.content.decode()
    report = ReconciliationReport.objects.get(provider=suggesting)
    assert 'id="helios-resend-missing"' in page.content.decode()  # the report's own page has the action
    assert "Suggest: reconciliation offers to resend what is missing" in page.content.decode()
    resend = reverse("admin:events_reconciliationreport_resend_missing", args=[report.pk])
    first = admin_client.post(resend, follow=True).content.decode()
    assert "3 missing events will be sent again." in first
    assert "Nothing to send again." in admin_client.post(resend, follow=True).content.decode()
    assert Resend.objects.filter(delivery__provider=suggesting).count() == 3


def test_only_operators_may_resend_from_the_report_page(client, django_user_model, make_provider, make_receiver):
    config = make_provider("grid", "azure_eventgrid")
    make_receiver(config, demo_loss_rate=1.0, grace_seconds=0)
    send(config, 1, minutes_ago=10)
    report = reconcile(provider=config, since=timezone.now() - timedelta(hours=1))
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(viewer)
    response = client.post(reverse("admin:events_reconciliationreport_resend_missing", args=[report.pk]))
    assert response.status_code == 403
    assert not Resend.objects.exists()
