"""Replay and healing in chromium at 1366 px: a replay's dry run, start and live progress with a
real worker; an event healed after reconciliation found it missing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Delivery, Event
from events.services.healing import heal
from events.services.reconcile import reconcile
from events.services.sending import send_due
from providers.models import ProviderConfig, ReceiverSettings
from tests.e2e.test_browser import browser, log_in  # noqa: F401 (the fixture)
from tests.e2e.test_console_pages import WIDE, shot
from tests.publishing import publish_event

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_a_replay_is_dry_run_started_and_followed_to_the_end(
    browser,  # noqa: F811
    live_server,
    admin_user,
    demo_providers,
    qcluster,
):
    from playwright.sync_api import expect

    aws = ProviderConfig.objects.get(name="aws-demo")
    gcp = ProviderConfig.objects.get(name="gcp-demo")
    for n in range(12):
        publish_event(
            event_type="OrderPlaced", source="com.shop", subject=f"orders/o-{n}", data={"n": n}, providers=[aws]
        )
    publish_event(event_type="RefundIssued", source="com.shop", data={}, providers=[aws])
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/events/replay/add/")
    now = timezone.now()
    page.fill("#id_since", (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#id_until", (now + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#id_event_type", "OrderPlaced")
    page.check(f'#id_providers input[value="{gcp.pk}"]')
    page.fill("#id_rate_per_second", "5")
    page.click("input[name=_dry_run]")
    expect(page.locator("#replay-preview h2")).to_contain_text("12 events match")
    shot(page, "replay-dry-run")
    page.click("input[name=_start]")
    expect(page.locator(".messagelist")).to_contain_text("12 events queued")
    expect(page.locator("#helios-replay-progress")).to_have_attribute("data-final", "true", timeout=60_000)
    expect(page.locator("#replay-progress-text")).to_have_text("12 of 12 events (100 %) · done")
    shot(page, "replay-progress")
    assert Delivery.objects.filter(provider=gcp).count() == 12
    assert not Delivery.objects.filter(provider=gcp, event__type="RefundIssued").exists()


def test_a_healed_event_says_so_on_its_page(browser, live_server, admin_user, make_provider):  # noqa: F811
    from playwright.sync_api import expect

    lossy = make_provider("gcp-lossy", "gcp_pubsub")
    set_up = timezone.now() - timedelta(days=1)  # before the sends it reconciles
    ReceiverSettings.objects.create(
        provider=lossy, healing="automatic", demo_loss_rate=1.0, grace_seconds=0, created_at=set_up
    )
    event = publish_event(event_type="OrderPlaced", source="com.shop", data={"n": 1}, providers=[lossy], ring=False)
    send_due(provider_id=lossy.pk)
    Delivery.objects.filter(provider=lossy).update(completed_at=timezone.now() - timedelta(minutes=10))
    report = reconcile(provider=lossy, since=timezone.now() - timedelta(hours=1), grace_seconds=0)
    assert heal(report).resent == 1
    send_due(provider_id=lossy.pk)
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/events/event/{Event.objects.get(pk=event.pk).pk}/change/")
    expect(page.locator("#helios-resends")).to_contain_text(f"healing: missing in reconciliation #{report.pk}")
    page.wait_for_load_state("networkidle")
    shot(page, "healed-event")
