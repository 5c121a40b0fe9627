"""The operations home in chromium: an open circuit is the first thing an operator sees, and the
section refreshes in place when the provider recovers."""

import pytest

from events.services.sending import send_due
from providers.models import CircuitTransition, ProviderConfig, ProviderRuntime
from tests.conftest import ARTIFACTS
from tests.e2e.test_browser import browser, log_in  # noqa: F401 (the fixture)
from tests.publishing import publish_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_open_circuit_leads_the_home_page_and_clears_without_a_reload(
    browser,  # noqa: F811
    live_server,
    admin_user,
    demo_providers,
    settings,
):
    from playwright.sync_api import expect

    settings.HELIOS_HOME_REFRESH_SECONDS = 1
    gcp = ProviderConfig.objects.get(name="gcp-demo")
    ProviderConfig.objects.filter(pk=gcp.pk).update(
        demo_failure_rate=1.0, circuit_failure_threshold=3, circuit_cooldown_seconds=600
    )
    gcp.refresh_from_db()
    for n in range(5):
        publish_event(event_type="OrderPlaced", source="com.test", data={"n": n}, providers=[gcp], ring=False)
    send_due(provider_id=gcp.pk)
    assert ProviderRuntime.objects.get(provider=gcp).circuit_state == "open"

    page = log_in(browser, live_server)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/admin/")
    banner = page.locator("#helios-attention")
    expect(banner).to_contain_text("gcp-demo: The circuit is open since")
    expect(banner).to_contain_text("100 % of 5 attempts failed in the last 15 minutes")
    row = page.locator('#helios-providers tr[data-provider="gcp-demo"]')
    expect(row.locator('[data-field="circuit"]')).to_contain_text("open")
    expect(row.locator('[data-field="circuit"]')).to_contain_text("5 failures in a row")
    expect(row.locator('[data-field="backlog"]')).to_contain_text("5 retrying")
    expect(row.locator('[data-field="last_error"]')).to_contain_text("simulated by demo mode")
    expect(page.locator("#helios-incidents")).to_contain_text("gcp-demo opened")
    aws_circuit = page.locator('#helios-providers tr[data-provider="aws-demo"] [data-field="circuit"]')
    assert aws_circuit.text_content().strip() == "closed"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "operations-home-open-circuit.png"), full_page=True)

    # The provider recovers: the circuit closes; the page shows it without being reloaded.
    page.evaluate("window.helios_marker = 'same page'")
    ProviderRuntime.objects.filter(provider=gcp).update(circuit_state="closed")
    CircuitTransition.objects.create(
        provider=gcp, from_state="half_open", to_state="closed", reason="the probe succeeded"
    )
    expect(row.locator('[data-field="circuit"]')).to_have_text("closed", timeout=30_000)
    expect(page.locator("#helios-incidents")).to_contain_text("gcp-demo closed again")
    assert page.evaluate("window.helios_marker") == "same page"
