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
from events.services.reconcile import reconcile, reconcile_recent, retry_missing
from events.services.sending import send_due
from providers.models import ProviderRuntime
from providers.receiver_admin import ReceiverSettingsForm
from tests.publishing import publish_event

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


def test_an_admin_sets_automatic_healing_on_a_production_config_by_typing_its_name_audited(
    admin_client, production_providers, make_receiver
):
    from django.urls import reverse

    config = production_providers["gcp_pubsub"]
    receiver = make_receiver(config)
    url = reverse("admin:providers_providerconfig_change", args=[config.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and not isinstance(value, list)}
    data.update(
        {
            "receiver-TOTAL_FORMS": "1",
            "receiver-INITIAL_FORMS": "1",
            "receiver-MIN_NUM_FORMS": "0",
            "receiver-MAX_NUM_FORMS": "1",
            "receiver-0-id": receiver.pk,
            "receiver-0-provider": config.pk,
            "receiver-0-enabled": "on",
            "receiver-0-method": "push",
            "receiver-0-pull_batch": 500,
            "receiver-0-pull_wait_seconds": 10,
            "receiver-0-auth": "token",
            "receiver-0-secret_env": "TEST_RECEIVER_TOKEN",
            "receiver-0-api_key_header": "x-api-key",
            "receiver-0-oidc_issuers": receiver.oidc_issuers,
            "receiver-0-oidc_certs_url": receiver.oidc_certs_url,
            "receiver-0-max_body_bytes": receiver.max_body_bytes,
            "receiver-0-grace_seconds": 300,
            "receiver-0-healing": "automatic",
            "receiver-0-healing_max_per_hour": 50,
            "receiver-0-healing_max_age_hours": 12,
            "receiver-0-demo_arrival_seconds": 2,
            "receiver-0-demo_loss_rate": 0,
            "receiver-0-demo_duplicate_rate": 0,
        }
    )
    refused = admin_client.post(url, data)
    assert (
        refused.status_code == 200
        and "gcp-prod is in production: type its name to confirm." in refused.content.decode()
    )
    saved = admin_client.post(url, {**data, "receiver-0-confirm_healing": "gcp-prod"})
    assert saved.status_code == 302, saved.content.decode()[:3000]
    receiver.refresh_from_db()
    assert (receiver.healing, receiver.healing_max_per_hour, receiver.healing_confirmed_at is not None) == (
        "automatic",
        50,
        True,
    )
    entry = AuditEntry.objects.get(action=AuditAction.HEALING_POLICY)
    assert entry.summary == (
        "Self-healing: Automatic: resend what is missing after reconciliation "
        "(automatic in production, confirmed by name)"
    )
