"""Every list an operator opens fits a 1366 px screen with realistic data (long errors, long
subjects, many rows): no sideways scroll, rows about one line high, names rather than database
ids. Screenshots of each in test-artifacts/list-*.png."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.models import AuditAction
from events.models import Delivery, DeliveryAttempt, Event, Route
from events.services.receipts import record_arrivals
from events.services.reconcile import reconcile
from events.services.replay import ReplayFilter, start_replay
from events.services.sending import send_due
from gateway.keys import create_key
from providers.inbound.parsing import InboundEvent
from providers.models import ProviderConfig, ReceiverSettings
from tests.conftest import ARTIFACTS
from tests.e2e.test_browser import browser, log_in  # noqa: F401 (the fixture)
from tests.e2e.test_console_pages import WIDE, shot
from tests.publishing import publish_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: What a botocore error looks like when a cloud refuses a call: long, with ids and no spaces to break at.
LONG_ERROR = (
    "An error occurred (AccessDeniedException) when calling the PutEvents operation: User: "
    "arn:aws:sts::123456789012:assumed-role/helios-publisher-production-eu-west-1/i-0a1b2c3d4e5f67890 is not "
    "authorized to perform: events:PutEvents on resource: arn:aws:events:eu-west-1:123456789012:event-bus/"
    "orders-production-eu-west-1-primary-bus-with-a-very-long-name because no identity-based policy allows the "
    "events:PutEvents action (Service: EventBridge, Status Code: 400, Request ID: 5f1c2a9e-7b3d-4e8f-a1c2-9d8e7f6a5b4c)"
)
LONG_SUBJECT = "customers/eu-west/" + "c" * 40 + "/orders/2026/12/04/" + "o" * 60 + "/lines/line-0001-with-a-long-sku"
#: One row is about one line of text; a status badge with its note makes two. More is a row "a hand tall".
MAX_ROW_PX = 60
LISTS = {
    "events": "/admin/events/event/",
    "deliveries": "/admin/events/delivery/",
    "receipts": "/admin/events/receipt/",
    "reports": "/admin/events/reconciliationreport/",
    "findings": "/admin/events/reconciliationitem/",
    "replays": "/admin/events/replay/",
    "routes": "/admin/events/route/",
    "keys": "/admin/gateway/apikey/",
    "audit": "/admin/core/auditentry/",
    "providers": "/admin/providers/providerconfig/",
}


def seed(demo_providers: list[ProviderConfig]) -> None:
    """What a busy day leaves: many events with long subjects, long cloud errors, receipts from a
    long-named subscription, a reconciliation with findings, routes, keys and audit entries."""
    gcp = next(c for c in demo_providers if c.name == "gcp-demo")
    ReceiverSettings.objects.create(
        provider=gcp, secret_env="TEST_RECEIVER_TOKEN", grace_seconds=0, created_at=timezone.now() - timedelta(days=1)
    )
    events = [
        publish_event(
            event_type="OrderPlacedWithAVeryLongEventTypeNameForTheEuropeanShop",
            source="com.example.shop.checkout.eu-west-1.production.orders-service",
            subject=f"{LONG_SUBJECT}-{n}",
            data={"n": n},
            providers=demo_providers,
            ring=False,
        )
        for n in range(40)
    ]
    for config in demo_providers:
        send_due(provider_id=config.pk)
    failed = Delivery.objects.filter(provider__name="aws-demo")[:10]
    Delivery.objects.filter(pk__in=[d.pk for d in failed]).update(
        status="dead", last_error_code="AccessDeniedException", last_error=LONG_ERROR
    )
    DeliveryAttempt.objects.filter(delivery__in=failed).update(
        error_code="AccessDeniedException", error_message=LONG_ERROR
    )
    Delivery.objects.filter(provider=gcp).update(completed_at=timezone.now() - timedelta(minutes=5))
    record_arrivals(
        provider=gcp,
        via="projects/helios-production-eu/subscriptions/helios-round-trip-orders-production-push-subscription",
        operation="push",
        events=[InboundEvent(event_id=str(e.id), subject=e.subject) for e in events[:25]]
        + [InboundEvent(event_id=f"foreign-{n}-" + "x" * 60, subject=LONG_SUBJECT) for n in range(3)],
    )
    reconcile(provider=gcp, since=timezone.now() - timedelta(hours=2))
    route = Route.objects.create(
        name="eu-orders-to-every-cloud",
        description="Every order placed in the European shop goes to the three clouds for the downstream teams",
        filter={"all": [{"prefix": {"type": "OrderPlaced"}}, {"exact": {"data.country": "DE"}}]},
    )
    route.providers.set(demo_providers)
    for n in range(3):
        create_key(name=f"order-service-eu-west-1-production-{n}", providers=demo_providers)
    window = ReplayFilter(
        since=timezone.now() - timedelta(hours=1),
        until=timezone.now(),
        event_type="OrderPlacedWithAVeryLongEventTypeNameForTheEuropeanShop",
        subject_prefix=LONG_SUBJECT[:120],
        provider="aws-demo",
        status="dead",
    )
    start_replay(window, demo_providers, actor=Actor(remote_addr="10.20.30.40"))
    audit.record(
        actor=Actor(remote_addr="10.20.30.40"),
        action=AuditAction.CONFIG_CHANGE,
        target="provider config aws-demo",
        summary="Changed demo failure rate, demo latency, circuit failure threshold: " + LONG_ERROR[:300],
    )


def test_every_list_fits_1366_px_with_one_line_rows(browser, live_server, admin_user, demo_providers):  # noqa: F811
    seed(demo_providers)
    assert Event.objects.count() == 40
    page = log_in(browser, live_server)
    page.set_viewport_size(WIDE)
    problems = []
    for name, path in LISTS.items():
        page.goto(f"{live_server.url}{path}")
        shot(page, f"list-{name}")
        page.screenshot(path=str(ARTIFACTS / f"list-{name}-top.png"))  # the first screen, as an operator sees it
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{name}: the page is {overflow} px wider than the screen")
        if not page.locator("#result_list").count():
            problems.append(f"{name}: no rows listed")
            continue
        hidden = page.locator("#changelist .results").evaluate("r => r.scrollWidth - r.clientWidth")
        if hidden > 0:
            widths = page.locator("#result_list thead th").evaluate_all(
                "headers => headers.map(h => h.innerText.trim() + ': ' + h.offsetWidth)"
            )
            problems.append(f"{name}: the table hides {hidden} px of columns (scrolls sideways): {widths}")
        tallest = page.locator("#result_list tbody tr").evaluate_all(
            "rows => Math.max(...rows.map(r => r.offsetHeight))"
        )
        if tallest > MAX_ROW_PX:
            problems.append(f"{name}: a row is {tallest} px tall")
        cells = page.locator("#result_list tbody").inner_text()
        if "→ 1" in cells or "→ 2" in cells or "→ 3" in cells or " via 1" in cells or " via 2" in cells:
            problems.append(f"{name}: shows database ids where names belong")
    assert problems == [], "\n".join(problems)
