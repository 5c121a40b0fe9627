"""Reconciliation finds exactly the seeded missing, duplicated, unexpected and out-of-order events."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from events.models import Delivery, ReconciliationKind, ReconciliationReport
from events.services.receipts import record_arrivals
from events.services.reconcile import reconcile, retry_missing
from events.services.sending import send_due
from providers.inbound.parsing import InboundEvent
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(make_provider, make_receiver):
    """Seven events sent to `grid` and what came back:
    A2 then A1 (same subject: A1 is out of order), B1 twice (duplicated), C1 once, M1 never (missing),
    M2 never but just sent (within the grace period), a foreign event and a HELIOS event that was
    only sent to another config (both unexpected)."""
    grid = make_provider("grid", "azure_eventgrid")
    other = make_provider("other", "gcp_pubsub")
    make_receiver(grid, grace_seconds=300)
    base = timezone.now() - timedelta(minutes=30)
    events = {}
    sent = [("A1", "orders/A"), ("A2", "orders/A"), ("B1", "orders/B"), ("C1", "orders/C"), ("M1", "orders/M")]
    sent.append(("M2", "orders/M2"))
    for offset, (name, subject) in enumerate(sent):
        event = publish_event(event_type="T", source="s", subject=subject, data={"n": name}, providers=[grid])
        event.created_at = base + timedelta(seconds=offset)
        event.save(update_fields=["created_at"])
        events[name] = event
    elsewhere = publish_event(event_type="T", source="s", subject="orders/X", data={}, providers=[other])
    send_due(provider_id=grid.pk)
    Delivery.objects.filter(provider=grid).update(completed_at=timezone.now() - timedelta(minutes=20))
    Delivery.objects.filter(event=events["M2"]).update(completed_at=timezone.now())  # just sent: not missing yet

    def arrive(*names: str) -> None:
        record_arrivals(
            provider=grid,
            via="test",
            operation="push",
            events=[InboundEvent(event_id=str(events[n].id), subject=events[n].subject) for n in names],
        )

    arrive("A2")
    arrive("A1")
    arrive("B1")
    arrive("B1")
    arrive("C1")
    record_arrivals(
        provider=grid, via="test", operation="push", events=[InboundEvent(event_id="foreign-1", subject="orders/A")]
    )
    record_arrivals(
        provider=grid,
        via="test",
        operation="push",
        events=[InboundEvent(event_id=str(elsewhere.id), subject="orders/X")],
    )
    return grid, events, elsewhere


def findings(report: ReconciliationReport) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {kind: [] for kind in ReconciliationKind.values}
    for item in report.items.all():
        found[item.kind].append(item.key)
    return found


def test_reconciliation_finds_exactly_the_seeded_cases(seeded):
    grid, events, elsewhere = seeded
    report = reconcile(provider=grid, since=timezone.now() - timedelta(hours=1))
    assert findings(report) == {
        "missing": [str(events["M1"].id)],
        "duplicated": [str(events["B1"].id)],
        "unexpected": ["foreign-1", str(elsewhere.id)],
        "out_of_order": [str(events["A1"].id)],
    }
    assert (report.sent, report.received) == (6, 6)
    assert (report.missing, report.duplicated, report.unexpected, report.out_of_order) == (1, 1, 2, 1)
    assert not report.clean_result
    detail = report.items.get(kind="out_of_order").detail
    assert detail == f"subject orders/A: arrived after {events['A2'].id}, which was sent later"


def test_the_missing_ones_can_be_sent_again_from_the_report(seeded, sync_tasks):
    grid, events, _ = seeded
    report = reconcile(provider=grid, since=timezone.now() - timedelta(hours=1))
    assert retry_missing(report=report) == 1
    missing = Delivery.objects.get(event=events["M1"])
    assert (missing.status, missing.attempts) == ("succeeded", 2)  # sent again at once (synchronous tasks)
    assert AuditEntry.objects.get(action="retry").target == f"reconciliation #{report.pk}"
    assert retry_missing(report=report) == 0  # only still-unconfirmed, succeeded deliveries


def test_a_clean_window_and_the_command(seeded):
    grid, _, _ = seeded
    an_hour_ago = timezone.now() - timedelta(hours=1)
    report = reconcile(provider=grid, since=an_hour_ago - timedelta(hours=1), until=an_hour_ago)
    assert report.clean_result and (report.sent, report.received) == (0, 0)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command("reconcile", "--provider", "grid", "--since", "1h", stdout=out)
    assert exit_status.value.code == 1
    text = out.getvalue()
    assert "6 sent, 6 received; 1 missing, 1 duplicated, 2 unexpected, 1 out of order" in text
    assert "  missing " in text and "  unexpected   foreign-1  not a HELIOS event id" in text
    clean = io.StringIO()
    call_command("reconcile", "--provider", "grid", "--since", "2h", "--until", an_hour_ago.isoformat(), stdout=clean)
    assert "0 sent, 0 received; 0 missing" in clean.getvalue()  # and no SystemExit: exit status 0


def test_reports_in_the_console_export_and_retry(admin_client, seeded):
    grid, _, _ = seeded
    page = admin_client.post(
        reverse("admin:events_reconciliationreport_run"), {"provider": grid.pk, "hours": 1}, follow=True
    )
    report = ReconciliationReport.objects.get()
    assert f"Reconciliation #{report.pk} of grid done: 1 missing." in page.content.decode()
    assert "Healing is off for this config: resend the missing events from the report&#x27;s page." in (
        page.content.decode()
    )
    changelist = reverse("admin:events_reconciliationreport_changelist")
    export = admin_client.post(changelist, {"action": "export_findings", "_selected_action": [report.pk]})
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0] == "report,provider,kind,key,delivery_id,receipt_id,detail" and len(lines) == 6
    response = admin_client.post(changelist, {"action": "retry_missing_events", "_selected_action": [report.pk]})
    assert response.status_code == 302
    items = admin_client.get(reverse("admin:events_reconciliationitem_changelist") + f"?report__id__exact={report.pk}")
    assert items.context["cl"].result_count == 5
