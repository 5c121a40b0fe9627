"""Self-healing: after reconciliation, missing events are sent again with the same event id, by the
config's policy, within its bounds (an hourly limit, a maximum age, never while the circuit is
open, production only once confirmed by name); an event is healed once and then reported as
still missing; every healing resend is linked to its reconciliation item."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditAction, AuditEntry
from events.models import Delivery, Event, ReconciliationKind, Resend
from events.services.healing import heal
from events.services.publishing import publish_event
from events.services.reconcile import reconcile, reconcile_recent, retry_missing
from events.services.sending import send_due
from providers.models import ProviderRuntime
from providers.receiver_admin import ReceiverSettingsForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def lossy(make_provider, make_receiver):
    """A demo Pub/Sub config whose simulated cloud never delivers anything back."""
    config = make_provider("lossy", "gcp_pubsub")
    make_receiver(config, healing="automatic", demo_loss_rate=1.0, grace_seconds=0, healing_max_per_hour=100)
    return config


def sent(config, count: int) -> list[Event]:
    events = [
        publish_event(event_type="OrderPlaced", source="com.test", data={"n": n}, providers=[config], ring=False)
        for n in range(count)
    ]
    send_due(provider_id=config.pk)
    Delivery.objects.filter(provider=config).update(completed_at=timezone.now() - timedelta(minutes=10))
    return events


def report_of(config):
    return reconcile(provider=config, since=timezone.now() - timedelta(hours=1), grace_seconds=0)


def test_automatic_healing_resends_missing_events_once_and_then_reports_them_still_missing(lossy):
    events = sent(lossy, 3)
    first = report_of(lossy)
    assert first.missing == 3
    assert heal(first).resent == 3
    resends = Resend.objects.filter(item__report=first)
    assert sorted(r.delivery.event_id for r in resends) == sorted(e.pk for e in events)
    assert set(Delivery.objects.filter(provider=lossy).values_list("status", flat=True)) == {"retrying"}
    assert AuditEntry.objects.get(action=AuditAction.HEALING).summary == "Healing: 3 missing events sent again to lossy"

    send_due(provider_id=lossy.pk)  # sent again, and lost again
    Delivery.objects.filter(provider=lossy).update(completed_at=timezone.now() - timedelta(minutes=1))
    second = report_of(lossy)
    details = list(second.items.filter(kind=ReconciliationKind.MISSING).values_list("detail", flat=True))
    assert len(details) == 3 and all("healed (sent again) at" in d and d.endswith("and still missing") for d in details)
    assert heal(second).resent == 0  # healed once: left to an operator
    assert Resend.objects.count() == 3


def test_the_hourly_limit_and_the_age_bound_hold_healing_back(lossy):
    lossy.receiver.healing_max_per_hour = 2
    lossy.receiver.save()
    events = sent(lossy, 4)
    Event.objects.filter(pk=events[0].pk).update(created_at=timezone.now() - timedelta(hours=30))  # older than 24 h
    healing = heal(report_of(lossy))
    assert (healing.resent, healing.held_back) == (2, "1 over the hourly limit")
    assert not Resend.objects.filter(delivery__event=events[0]).exists()
    assert heal(report_of(lossy)).resent == 0  # the hour's 2 are spent


def test_no_healing_while_the_circuit_is_open_nor_when_the_policy_only_suggests(lossy):
    sent(lossy, 2)
    ProviderRuntime.objects.update_or_create(
        provider=lossy, defaults={"circuit_state": "open", "circuit_changed_at": timezone.now(), "circuit_reason": "x"}
    )
    assert heal(report_of(lossy)).held_back == "the circuit is open"
    ProviderRuntime.objects.filter(provider=lossy).update(circuit_state="closed")
    lossy.receiver.healing = "suggest"
    lossy.receiver.save()
    report = report_of(lossy)
    assert heal(report).resent == 0 and not Resend.objects.exists()
    assert retry_missing(report=report) == 2  # the operator's "Resend missing"
    assert Resend.objects.filter(item__report=report).count() == 2


def test_the_scheduled_reconciliation_heals(lossy):
    sent(lossy, 1)
    lossy.receiver.grace_seconds = 0
    lossy.receiver.save()
    [report] = reconcile_recent()
    assert Resend.objects.filter(item__report=report).count() == 1


def test_automatic_healing_of_a_production_config_needs_its_name_typed(production_providers, make_receiver):
    config = production_providers["gcp_pubsub"]
    receiver = make_receiver(config, healing="automatic")  # saved around the form: not confirmed
    sent(config, 1)
    assert heal(report_of(config)).held_back == "automatic healing of a production config is not confirmed by name"
    assert not Resend.objects.exists()
    fields = {
        "method": "push",
        "auth": "token",
        "secret_env": "TEST_RECEIVER_TOKEN",
        "healing": "automatic",
        "healing_max_per_hour": 100,
        "healing_max_age_hours": 24,
    }
    refused = ReceiverSettingsForm(data=fields, instance=receiver)
    assert not refused.is_valid()
    assert refused.errors["confirm_healing"] == ["gcp-prod is in production: type its name to confirm."]
    confirmed = ReceiverSettingsForm(data={**fields, "confirm_healing": "gcp-prod"}, instance=receiver)
    assert confirmed.is_valid(), confirmed.errors
    assert confirmed.save().healing_confirmed_at is not None


def test_the_dashboard_counts_the_round_trip_findings_and_healing(admin_client, lossy):
    from django.urls import reverse

    sent(lossy, 2)
    heal(report_of(lossy))
    page = admin_client.get(reverse("admin:events_dashboard")).content.decode()
    row = page[page.find('<tr data-provider="lossy">', page.find('id="helios-round-trip"')) :]
    assert '<td data-field="missing">2</td>' in row and '<td data-field="healed">2</td>' in row
