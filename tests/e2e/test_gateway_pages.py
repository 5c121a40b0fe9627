"""The gateway's console pages in chromium at 1366 px, as an Admin uses them: a route made, tested
and previewed by compose's live check, an API key made (its secret shown once) and used by a
service, then revoked."""

import json

import pytest

from events.models import Delivery
from gateway.expansion import expand_accepted
from providers.models import ProviderConfig
from tests.e2e.test_api_server import call
from tests.e2e.test_browser import browser, log_in  # noqa: F401 (the fixture)
from tests.e2e.test_console_pages import WIDE, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def post_event(url: str, secret: str, event: dict) -> tuple[int, dict]:
    """POST one envelope to the API as a service would; the status and the JSON answer."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    return call(f"{url}/api/v1/events", json.dumps(event).encode(), **headers)


def test_an_admin_makes_a_route_and_a_key_a_service_publishes_through_them_and_the_key_is_revoked(
    browser,  # noqa: F811
    live_server,
    admin_user,
    demo_providers,
):
    from playwright.sync_api import expect

    aws = ProviderConfig.objects.get(name="aws-demo")
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)

    page.goto(f"{live_server.url}/admin/events/route/add/")
    page.fill("#id_name", "orders-to-aws")
    page.fill("#id_filter", '{"prefix": {"type": "Order"}}')
    page.check(f'#id_providers input[value="{aws.pk}"]')
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("orders-to-aws")
    expect(page.locator("#result_list")).to_contain_text("aws-demo")

    page.goto(f"{live_server.url}/admin/events/route/test/")
    page.click("#route-test-form input[type=submit]")  # the page's own example, as it opens
    expect(page.locator("#route-test-verdict")).to_contain_text("aws-demo (route orders-to-aws)")
    page.fill("#id_event", '{"type": "OrderPlaced", "source": "shop", "subject": "o-1", "data": {}}')
    page.click("#route-test-form input[type=submit]")
    expect(page.locator("#route-test-verdict")).to_contain_text("aws-demo (route orders-to-aws)")
    expect(page.locator('#route-test-results tr[data-route="orders-to-aws"]')).to_contain_text(
        '{"prefix": {"type": "Order"}}'
    )
    shot(page, "route-test")
    page.fill("#id_event", '{"type": "RefundIssued", "source": "shop", "subject": "r-1", "data": {}}')
    page.click("#route-test-form input[type=submit]")
    expect(page.locator("#route-test-verdict")).to_contain_text("No route matches")

    page.goto(f"{live_server.url}/admin/events/event/compose/")
    page.fill("#id_event_type", "OrderPlaced")
    page.fill("#id_data", '{"order_id": "o-7"}')
    expect(page.locator('#helios-provider-previews [data-provider="aws-demo"] h3')).to_contain_text(
        "chosen by route orders-to-aws"
    )
    page.fill("#id_event_type", "RefundIssued")
    expect(page.locator("#helios-provider-previews")).to_contain_text("No route matches this event")

    page.goto(f"{live_server.url}/admin/gateway/apikey/add/")
    page.fill("#id_name", "order-service")
    page.check(f'#id_providers input[value="{aws.pk}"]')
    page.click("input[name=_save]")
    expect(page.locator(".helios-attention")).to_contain_text("it is shown this once")
    secret = page.locator("#helios-new-key").text_content().strip()
    shot(page, "api-key-created")
    assert secret.startswith("hk_")
    assert secret not in page.goto(f"{live_server.url}/admin/gateway/apikey/").text()

    status, answer = post_event(
        live_server.url, secret, {"type": "OrderPlaced", "source": "shop", "subject": "o-1", "data": {"n": 1}}
    )
    assert status == 202, answer
    [event] = answer["events"]
    assert (event["status"], event["deliveries"]) == ("accepted", [])  # a worker expands it
    assert expand_accepted() == 1
    assert Delivery.objects.get(event_id=event["id"]).route.name == "orders-to-aws"
    status, answer = post_event(live_server.url, secret, {"type": "RefundIssued", "source": "shop", "data": {}})
    assert status == 422, answer

    page.reload()
    row = page.locator("#result_list tbody tr", has_text="order-service")
    expect(row).to_contain_text("active")
    row.locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", "revoke")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("API key order-service revoked")
    expect(page.locator("#result_list tbody tr", has_text="order-service")).to_contain_text("revoked")
    shot(page, "api-keys-list")
    status, answer = post_event(live_server.url, secret, {"type": "OrderPlaced", "source": "shop", "data": {}})
    assert status == 401
    assert answer == {"errors": ["The API key order-service was revoked."]}
