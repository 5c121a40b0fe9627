"""Operator truth, round 2, as an operator sees it in chromium at 1366 px (screenshots in
test-artifacts/): a demo config set to fail says so and the dashboard leads with what is wrong;
a delivery held by an open circuit says what it waits for; an event says who made it; a
reconciliation report's page resends its missing events; the receiver's form shows whole numbers
and its help text keeps its placeholders."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Delivery, ReconciliationReport
from events.services.reconcile import reconcile
from events.services.sending import send_due
from providers.models import ProviderConfig, ProviderRuntime, ReceiverSettings
from tests.e2e.test_browser import browser, log_in  # noqa: F401 (the fixture)
from tests.e2e.test_console_pages import WIDE, shot
from tests.publishing import publish_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_failing_demo_and_a_held_delivery_say_why(browser, live_server, admin_user, demo_providers):  # noqa: F811
    from playwright.sync_api import expect

    aws = ProviderConfig.objects.get(name="aws-demo")
    ProviderConfig.objects.filter(pk=aws.pk).update(demo_failure_rate=1.0, demo_latency_ms=2500, max_attempts=5)
    aws.refresh_from_db()
    event = publish_event(event_type="OrderPlaced", source="com.shop", data={"n": 1}, providers=[aws], ring=False)
    send_due(provider_id=aws.pk)
    Delivery.objects.filter(event=event).update(next_attempt_at=timezone.now() - timedelta(seconds=30))
    ProviderRuntime.objects.filter(provider=aws).update(
        circuit_state="open", circuit_changed_at=timezone.now() - timedelta(seconds=10)
    )
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator('tr[data-provider="aws-demo"] [data-field="simulation"]')).to_have_text(
        "demo: 100 % of sends fail on purpose, about 2,500 ms a call"
    )
    page.goto(f"{live_server.url}/admin/dashboard/")
    expect(page.locator("#helios-dashboard-attention")).to_contain_text("aws-demo: circuit open until")
    expect(page.locator("#helios-dashboard-attention")).to_contain_text("demo: 100 % of sends fail on purpose")
    page.screenshot(path=_artifact("dashboard-failing-demo"))
    page.goto(f"{live_server.url}/admin/events/event/{event.pk}/change/")
    expect(page.locator('[data-field="waiting"]')).to_contain_text("held by open circuit, probe ")
    expect(page.locator(".field-creator .readonly")).to_have_text("CLI")
    shot(page, "event-held-by-circuit")


def test_a_report_page_resends_and_the_receiver_form_reads_whole(browser, live_server, admin_user, make_provider):  # noqa: F811
    from playwright.sync_api import expect

    grid = make_provider("grid", "azure_eventgrid")
    ReceiverSettings.objects.create(
        provider=grid, demo_loss_rate=1.0, grace_seconds=0, created_at=timezone.now() - timedelta(days=1)
    )
    for n in range(3):
        publish_event(event_type="OrderPlaced", source="com.shop", data={"n": n}, providers=[grid], ring=False)
    send_due(provider_id=grid.pk)
    Delivery.objects.filter(provider=grid).update(completed_at=timezone.now() - timedelta(minutes=5))
    report = reconcile(provider=grid, since=timezone.now() - timedelta(hours=1))
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/events/reconciliationreport/{report.pk}/change/")
    shot(page, "report-page-resend")
    page.click("#helios-resend-missing button")
    expect(page.locator(".messagelist")).to_contain_text("3 missing events will be sent again.")
    page.click("#helios-resend-missing button")
    expect(page.locator(".messagelist")).to_contain_text("Nothing to send again.")
    assert ReconciliationReport.objects.count() == 1
    page.goto(f"{live_server.url}/admin/providers/providerconfig/{grid.pk}/change/")
    size = page.locator("#id_receiver-0-max_body_bytes")
    assert size.input_value() == "2097152"
    measured = size.evaluate("i => [i.scrollWidth, i.clientWidth, i.className, getComputedStyle(i).width]")
    assert measured[0] <= measured[1], f"the number is clipped: {measured}"
    expect(page.locator("#receiver-group")).to_contain_text("https://{namespace}.{region}-1.eventgrid.azure.net")
    shot(page, "receiver-form")


def _artifact(name: str) -> str:
    from tests.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


def test_a_user_gets_a_role_by_name_on_their_page(browser, live_server, admin_user, django_user_model):  # noqa: F811
    from playwright.sync_api import expect

    from core.models import AuditEntry

    bob = django_user_model.objects.create_user("bob", password="a-long-password-1")
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/auth/user/{bob.pk}/change/")
    expect(page.locator("#id_role")).to_have_value("")
    page.select_option("#id_role", "Operator")
    shot(page, "user-role")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    bob = django_user_model.objects.get(pk=bob.pk)
    assert bob.is_staff and list(bob.groups.values_list("name", flat=True)) == ["Operator"]
    assert AuditEntry.objects.get(action="role_assign").summary == "bob is now Operator"
    page.goto(f"{live_server.url}/admin/auth/user/{bob.pk}/change/")
    expect(page.locator("#id_role")).to_have_value("Operator")
