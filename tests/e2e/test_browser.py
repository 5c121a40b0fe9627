"""Real-browser tests: Playwright driving Debian's chromium against the running console."""

import os
import shutil
from collections.abc import Iterator

import pytest
from django.db import connections

from providers.models import ProviderConfig
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Debian's chromium through Playwright (Playwright never downloads a browser here)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("HELIOS_REQUIRE_BROWSER"):
            pytest.fail(f"chromium not found at {CHROMIUM}; install Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # Connections opened while Playwright's loop ran live in its context: close them here,
        # or the test database cannot be dropped at the end of the session.
        connections.close_all()


def log_in(browser, live_server):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    return page


def test_compose_to_three_demo_providers_and_watch_them_succeed_live(
    browser, live_server, admin_user, demo_providers, qcluster
):
    from playwright.sync_api import expect

    # A slower simulated AWS call keeps one delivery open while the page first renders.
    ProviderConfig.objects.filter(name="aws-demo").update(demo_latency_ms=2500)
    page = log_in(browser, live_server)
    page.click("#helios-compose")
    page.fill("#id_event_type", "OrderPlaced")
    page.fill("#id_subject", "orders/o-42")
    page.fill("#id_data", '{"order_id": "o-42", "amount": 99.5}')
    for name in ("aws-demo", "gcp-demo", "azure-demo"):
        page.get_by_label(name, exact=False).check()
    page.wait_for_load_state("networkidle")  # the live check has answered: no layout shift under the click
    page.click("input[name=_send]")

    rows = page.locator("#helios-deliveries tbody tr")
    expect(rows).to_have_count(3)
    first_seen = [rows.nth(i).get_attribute("data-status") for i in range(3)]
    assert first_seen.count("succeeded") < 3, "page should open before the slow delivery finishes"
    expect(page.locator("#helios-deliveries")).to_have_attribute("data-all-final", "true", timeout=30_000)
    assert [rows.nth(i).get_attribute("data-status") for i in range(3)] == ["succeeded"] * 3
    expect(page.locator("#helios-live-state")).to_have_text("All deliveries are final.")
    for i in range(3):
        assert rows.nth(i).locator('[data-field="provider_message_id"]').inner_text() not in ("", "—")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "event-page.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/")
    page.click("#helios-dashboard")
    expect(page.locator('#helios-health tr[data-provider="aws-demo"] [data-field="succeeded"]')).to_have_text("1")
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_invalid_json_is_shown_on_the_form(browser, live_server, admin_user, demo_providers):
    page = log_in(browser, live_server)
    page.goto(f"{live_server.url}/admin/events/event/compose/")
    page.fill("#id_data", '{"order_id": "o-1",}')
    page.get_by_label("gcp-demo", exact=False).check()
    page.wait_for_load_state("networkidle")  # the live check has answered: no layout shift under the click
    page.click("input[name=_send]")
    error = page.locator(".field-data .errorlist")
    assert "Invalid JSON at line 1, column 20: Expecting property name" in error.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compose-error.png"), full_page=True)


def test_production_send_asks_for_a_confirmation_naming_the_provider(
    browser, live_server, admin_user, production, make_provider
):
    from playwright.sync_api import expect

    make_provider("az-prod", "azure_eventgrid", mode="production", credentials_env_prefix="TEST_")
    page = log_in(browser, live_server)
    page.goto(f"{live_server.url}/admin/events/event/compose/")
    page.get_by_label("az-prod", exact=False).check()
    page.wait_for_load_state("networkidle")  # the live check has answered: no layout shift under the click
    page.click("input[name=_send]")
    expect(page.locator("#helios-production-confirm")).to_contain_text("production: az-prod")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compose-production-confirmation.png"), full_page=True)
    assert page.locator("input[name=providers]").first.is_checked()  # the choice survives the round trip
    page.locator("input[name=confirm_production]").check()
    page.wait_for_load_state("networkidle")
    page.click("input[name=_send]")
    expect(page.locator("#helios-deliveries")).to_be_visible()
    expect(page.locator('#helios-deliveries [data-field="mode"]')).to_have_text("production")


def test_a_viewer_is_refused_compose(browser, live_server, demo_providers):
    from django.contrib.auth.models import Group, User

    viewer = User.objects.create_user("viewer", password="viewer-password-1", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewer"))
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "viewer")
    page.fill("#id_password", "viewer-password-1")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.locator("#helios-compose").count() == 0  # no Compose button for a Viewer
    response = page.goto(f"{live_server.url}/admin/events/event/compose/")
    assert response.status == 403


def test_retry_from_the_history(browser, live_server, admin_user, make_provider):
    from playwright.sync_api import expect

    from events.services.sending import send_due
    from tests.publishing import publish_event

    config = make_provider("flaky", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=1)
    publish_event(event_type="OrderPlaced", source="com.test", data={"n": 1}, providers=[config], ring=False)
    send_due(provider_id=config.pk)
    page = log_in(browser, live_server)
    page.goto(f"{live_server.url}/admin/events/delivery/?statuses=dead")
    expect(page.locator(".field-status_badge")).to_have_text("Dead")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "history.png"), full_page=True)
    page.locator("input.action-select").first.check()
    page.select_option("select[name=action]", "retry_selected")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("1 delivery will be retried now.")
    page.goto(f"{live_server.url}/admin/events/delivery/")
    expect(page.locator(".field-status_badge .helios-badge")).to_have_text("Retrying")
    expect(page.locator(".field-status_badge .helios-note")).to_have_text("due now: waiting for a worker")


def test_compose_from_a_template_with_a_schema_error_fix_and_send(
    browser, live_server, admin_user, demo_providers, starter_templates
):
    from playwright.sync_api import expect

    from events.models import Event

    page = log_in(browser, live_server)
    page.goto(f"{live_server.url}/admin/events/event/compose/")
    page.click('[data-template="OrderPlaced"]')
    expect(page.locator("#id_event_type")).to_have_value("OrderPlaced")
    page.locator("input[name=providers]").first.check()
    # The live check answers while typing, before anything is sent.
    page.fill("#id_data", '{"order_id": "ord-9",\n "amount": 3,,}')
    expect(page.locator("#helios-data-status")).to_have_text(
        "Invalid JSON at line 2, column 14: Expecting property name enclosed in double quotes."
    )
    page.fill("#id_data", '{"order_id": "ord-9", "customer_id": "cus-1", "amount": -3, "currency": "EUR"}')
    expect(page.locator("#helios-schema-problems")).to_contain_text("data.amount: -3 is less than or equal to")
    preview = page.locator(".helios-preview-provider").first
    expect(preview.locator("meter")).to_be_visible()
    expect(preview.locator(".helios-meter-text")).to_contain_text("of 262,144 bytes")
    preview.locator("summary").click()
    expect(preview.locator("pre")).to_contain_text('"DetailType": "OrderPlaced"')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compose-live-check.png"), full_page=True)
    page.click("input[name=_send]")
    expect(page.locator(".field-data .errorlist")).to_contain_text(
        "Template OrderPlaced: data.amount: -3 is less than or equal to the minimum of 0"
    )
    page.screenshot(path=str(ARTIFACTS / "compose-schema-error.png"), full_page=True)
    assert Event.objects.count() == 0
    page.fill("#id_data", '{"order_id": "ord-9", "customer_id": "cus-1", "amount": 3, "currency": "EUR"}')
    page.click("input[name=_send]")
    expect(page.locator("#helios-deliveries")).to_be_visible()
    assert Event.objects.get().data["amount"] == 3


def test_a_bulk_upload_runs_to_completion_with_the_progress_bar(
    browser, live_server, admin_user, demo_providers, qcluster, tmp_path
):
    from playwright.sync_api import expect

    from events.models import BulkUpload, Delivery

    # Simulated calls slow enough that the bar is seen part-way.
    ProviderConfig.objects.update(demo_latency_ms=100)
    lines = [f'{{"order_id": "o-{n}", "amount": {n}}}' for n in range(300)]
    upload = tmp_path / "orders.jsonl"
    upload.write_text("\n".join(lines))
    page = log_in(browser, live_server)
    page.click("#helios-bulk")
    page.set_input_files("#id_file", str(upload))
    page.fill("#id_event_type", "OrderPlaced")
    page.fill("#id_source", "com.example.shop")
    for name in ("aws-demo", "gcp-demo", "azure-demo"):
        page.get_by_label(name, exact=False).check()
    page.wait_for_load_state("networkidle")  # the live check has answered: no layout shift under the click
    page.click("input[name=_send]")

    panel = page.locator("#helios-bulk-progress")
    bar = page.locator("#bulk-progress-bar")
    expect(panel).to_be_visible()
    assert int(float(bar.get_attribute("value"))) < 900, "the page should open before every delivery is final"
    expect(panel).to_have_attribute("data-done", "true", timeout=60_000)
    assert (bar.evaluate("b => b.value"), bar.evaluate("b => b.max")) == (900, 900)
    expect(page.locator("#bulk-progress-text")).to_have_text("900 of 900 deliveries final (100 %): done.")
    batch = BulkUpload.objects.get()
    assert Delivery.objects.filter(event__bulk_upload=batch, status="succeeded").count() == 900
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "bulk-progress.png"), full_page=True)


def test_every_console_page_satisfies_the_content_security_policy(
    browser, live_server, admin_user, demo_providers, starter_templates, sync_tasks
):
    from events.models import Delivery, Event
    from tests.publishing import publish_event

    event = publish_event(event_type="OrderPlaced", source="com.test", data={"a": 1}, providers=demo_providers)
    page = log_in(browser, live_server)
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push("
        "e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber));"
    )
    paths = [
        "/admin/",
        "/admin/events/event/compose/",
        "/admin/dashboard/",
        f"/admin/events/event/{event.pk}/change/",
        "/admin/events/event/",
        "/admin/events/delivery/?statuses=succeeded",
        f"/admin/events/delivery/{Delivery.objects.filter(event=event).first().pk}/change/",
        "/admin/events/bulkupload/add/",
        "/admin/events/reconciliationreport/run/",
        "/admin/events/eventtemplate/1/change/",
        f"/admin/providers/providerconfig/{demo_providers[0].pk}/change/",
        "/admin/helios_site/auditentry/",
    ]
    response = page.goto(f"{live_server.url}/admin/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], path
    assert Event.objects.count() == 1
