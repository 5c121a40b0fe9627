"""Console pages in chromium at 1366 px: per-kind provider forms, a Viewer's 403, attempt
inspection and the honest dashboard (screenshots in test-artifacts/)."""

import pytest
from django.contrib.auth.models import Group, User

from events.models import Delivery
from events.services.sending import send_due
from providers.models import ProviderConfig
from tests.conftest import ARTIFACTS
from tests.e2e.test_browser import browser, log_in  # noqa: F401 (the fixture)
from tests.publishing import publish_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDE = {"width": 1366, "height": 900}


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_new_config_shows_the_chosen_clouds_options_and_a_saved_one_its_buttons(
    browser,  # noqa: F811
    live_server,
    admin_user,
    demo_providers,
):
    from playwright.sync_api import expect

    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/providers/providerconfig/add/")
    expect(page.locator("#id_gcp_topic")).to_be_hidden()
    expect(page.locator("#id_aws_region")).to_be_hidden()
    page.select_option("#id_kind", "gcp_pubsub")
    expect(page.locator("#id_gcp_topic")).to_be_visible()
    expect(page.locator("#id_aws_region")).to_be_hidden()
    expect(page.locator("#id_azure_endpoint")).to_be_hidden()
    shot(page, "provider-add-per-kind")

    gcp = ProviderConfig.objects.get(name="gcp-demo")
    page.goto(f"{live_server.url}/admin/providers/providerconfig/{gcp.pk}/change/")
    page.click('button[data-action="test_connection"]')
    expect(page.locator(".messagelist")).to_contain_text("Connection test of gcp-demo passed: demo: no cloud call")
    assert page.url.endswith(f"/admin/providers/providerconfig/{gcp.pk}/change/")
    shot(page, "provider-config-page")


def test_a_cloudevents_webhook_is_added_from_the_console_and_has_no_round_trip(
    browser,  # noqa: F811
    live_server,
    admin_user,
    demo_providers,
):
    from playwright.sync_api import expect

    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/providers/providerconfig/add/")
    expect(page.locator("#receiver-group")).to_be_visible()
    page.select_option("#id_kind", "cloudevents_http")
    expect(page.locator("#id_webhook_url")).to_be_visible()
    expect(page.locator("#receiver-group")).to_be_hidden()
    expect(page.locator("#id_azure_endpoint")).to_be_hidden()
    page.fill("#id_name", "orders-webhook")
    page.fill("#id_webhook_url", "https://broker.example.com/default/orders")
    page.select_option("#id_webhook_content_mode", "binary")
    shot(page, "provider-add-webhook")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("orders-webhook")
    config = ProviderConfig.objects.get(name="orders-webhook")
    assert (config.kind, config.webhook_content_mode) == ("cloudevents_http", "binary")
    expect(page.locator("text=Round trip")).to_have_count(0)
    page.click('button[data-action="test_connection"]')
    expect(page.locator(".messagelist")).to_contain_text("Connection test of orders-webhook passed")
    shot(page, "provider-webhook-page")


def test_a_viewer_is_told_which_permission_a_page_needs(browser, live_server, demo_providers):  # noqa: F811
    from playwright.sync_api import expect

    viewer = User.objects.create_user("admin", password="password", is_staff=True)  # log_in's credentials
    viewer.groups.add(Group.objects.get(name="Viewer"))
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/events/event/compose/")
    expect(page.locator("#helios-denied-reason")).to_have_text(
        "To compose and send events you need the permission “Can add event” (roles: Publisher, Operator, Admin)."
    )
    expect(page.locator("#site-name")).to_contain_text("HELIOS operations console")
    shot(page, "viewer-403")


def test_attempts_show_what_was_sent_and_what_came_back(browser, live_server, admin_user, demo_providers):  # noqa: F811
    from playwright.sync_api import expect

    aws = ProviderConfig.objects.get(name="aws-demo")
    # max_attempts=1: the failure is final at once (a retry's jittered backoff could otherwise be ~0 s
    # and make a second failed attempt within the same send).
    ProviderConfig.objects.filter(pk=aws.pk).update(demo_failure_rate=1.0, circuit_failure_threshold=50, max_attempts=1)
    aws.refresh_from_db()
    publish_event(
        event_type="OrderPlaced",
        source="com.example.shop",
        subject="orders/o-7",
        data={"order_id": "o-7"},
        providers=[aws],
        ring=False,
    )
    send_due(provider_id=aws.pk)
    aws.demo_failure_rate = 0.0
    aws.save()  # a new updated_at: the worker's cached client is rebuilt with the new rate
    from events.services.operator import retry_now

    retry_now(deliveries=Delivery.objects.all())
    send_due(provider_id=aws.pk)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)

    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/events/delivery/{delivery.pk}/change/")
    first, second = page.locator('details[data-attempt="1"]'), page.locator('details[data-attempt="2"]')
    expect(second.locator('pre[data-field="request"]')).to_be_visible()  # the last attempt is open
    first.locator("summary").click()
    expect(first.locator('pre[data-field="response"]')).to_contain_text("ThrottlingException")
    expect(second.locator('pre[data-field="request"]')).to_contain_text('"DetailType": "OrderPlaced"')
    expect(second.locator('pre[data-field="response"]')).to_contain_text(delivery.provider_message_id)
    shot(page, "attempt-inspection")


def test_the_dashboard_shows_attempt_rates_beside_final_rates(browser, live_server, admin_user, demo_providers):  # noqa: F811
    from playwright.sync_api import expect

    gcp = ProviderConfig.objects.get(name="gcp-demo")
    # One attempt each (a failure is final): a retry's jittered backoff can be ~0 s, which would
    # make a second attempt within this send and the count depend on chance.
    ProviderConfig.objects.filter(pk=gcp.pk).update(
        demo_failure_rate=0.5, circuit_failure_threshold=500, max_attempts=1
    )
    gcp.refresh_from_db()
    for n in range(40):
        publish_event(event_type="OrderPlaced", source="com.test", data={"n": n}, providers=demo_providers, ring=False)
    for config in demo_providers:
        send_due(provider_id=config.pk)
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/dashboard/")
    row = page.locator('#helios-health tr[data-provider="gcp-demo"]')
    expect(row.locator('[data-field="attempts"]')).to_have_text("40")
    failed = Delivery.objects.filter(provider=gcp, status="dead").count()
    expect(row.locator('[data-field="failed"]')).to_have_text(str(failed))
    rate = row.locator('[data-field="attempt_failure_rate"]').inner_text().split(" %")[0]
    assert rate == f"{100 * failed / 40:.1f}"  # every failed attempt was final: the two rates agree
    shot(page, "dashboard")


def test_the_lists_fit_a_1366_px_screen(browser, live_server, admin_user, demo_providers):  # noqa: F811
    gcp = ProviderConfig.objects.get(name="gcp-demo")
    ProviderConfig.objects.filter(pk=gcp.pk).update(demo_failure_rate=1.0, circuit_failure_threshold=500)
    for n in range(12):
        publish_event(
            event_type="OrderPlaced",
            source="com.example.shop",
            subject=f"orders/o-{n}",
            data={"n": n},
            providers=demo_providers,
            ring=False,
        )
    for config in demo_providers:
        send_due(provider_id=config.pk)
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/events/delivery/")
    page.screenshot(path=str(ARTIFACTS / "list-deliveries-top.png"))  # the first screen, as an operator sees it
    for name, path in (
        ("deliveries", "/admin/events/delivery/"),
        ("events", "/admin/events/event/"),
        ("providers", "/admin/providers/providerconfig/"),
    ):
        page.goto(f"{live_server.url}{path}")
        shot(page, f"list-{name}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the {name} page is {overflow} px wider than the screen"
        results = page.locator("#changelist .results")
        hidden = results.evaluate("r => r.scrollWidth - r.clientWidth")
        widths = page.locator("#result_list thead th").evaluate_all(
            "headers => headers.map(h => h.innerText.trim() + ': ' + h.offsetWidth)"
        )
        assert hidden <= 0, f"the {name} table hides {hidden} px of columns (scrolls sideways): {widths}"


def test_a_demo_round_trip_from_the_console(browser, live_server, admin_user, demo_providers, qcluster):  # noqa: F811
    """Add a receiver to a demo config on its page; a composed event comes back through the
    simulated cloud and the event page says so; reconciliation has something to compare."""
    from playwright.sync_api import expect

    gcp = ProviderConfig.objects.get(name="gcp-demo")
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/admin/providers/providerconfig/{gcp.pk}/change/")
    page.click("#receiver-group .add-row a")
    page.fill("#id_receiver-0-demo_arrival_seconds", "0")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    page.goto(f"{live_server.url}/admin/events/event/compose/")
    page.fill("#id_data", '{"order_id": "o-rt"}')
    page.get_by_label("gcp-demo", exact=False).check()
    # The live check renders the provider's preview above the button: click once it has answered (a
    # click during that layout shift lands elsewhere, and nothing is sent).
    page.wait_for_load_state("networkidle")
    with page.expect_navigation():
        page.click("input[name=_send]")
    confirmed = page.locator('#helios-deliveries [data-field="confirmed"]')
    expect(confirmed).to_contain_text("via GCP Pub/Sub receiver, simulated by demo mode", timeout=90_000)
    shot(page, "demo-round-trip")
