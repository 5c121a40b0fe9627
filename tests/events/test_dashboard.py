"""The dashboard: per-provider figures for the last 24 h and an hourly SVG chart."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from events.models import Delivery
from events.services import publish_event, send_due

pytestmark = pytest.mark.django_db
URL = "admin:events_dashboard"


def cell(page: str, provider: str, field: str) -> str:
    row = re.search(rf'<tr data-provider="{provider}">(.*?)</tr>', page, re.S).group(1)
    return re.search(rf'data-field="{field}">(.*?)</td>', row, re.S).group(1).strip()


def test_figures_per_provider_and_chart(admin_client, make_provider):
    ok = make_provider("ok", "gcp_pubsub")
    bad = make_provider("bad", "azure_eventgrid", demo_failure_rate=1.0, max_attempts=1)
    for _ in range(4):
        publish_event(event_type="T", source="s", data={}, providers=[ok, bad], ring=False)
    send_due(provider_id=ok.pk)
    send_due(provider_id=bad.pk)
    Delivery.objects.filter(provider=ok).update(latency_ms=10)
    Delivery.objects.filter(provider=ok, pk=Delivery.objects.filter(provider=ok).order_by("pk").last().pk).update(
        latency_ms=90
    )
    publish_event(event_type="T", source="s", data={}, providers=[ok], ring=False)  # still open
    old = publish_event(event_type="T", source="s", data={}, providers=[ok], ring=False)
    Delivery.objects.filter(event=old).update(created_at=timezone.now() - timedelta(hours=30))  # outside 24 h

    page = admin_client.get(reverse(URL)).content.decode()
    assert (cell(page, "ok", "sent"), cell(page, "ok", "succeeded"), cell(page, "ok", "open")) == ("5", "4", "1")
    assert cell(page, "ok", "success_rate") == "100.0 %"
    assert (cell(page, "ok", "p50"), cell(page, "ok", "p95")) == ("10 ms", "90 ms")
    assert (cell(page, "bad", "failed"), cell(page, "bad", "success_rate")) == ("4", "0.0 %")
    assert cell(page, "bad", "p50") == "—"
    assert "Deliveries per hour (9 in 24 h, 4 failed)" in page
    assert page.count('class="helios-bar-total"') >= 24
    assert re.search(r"<title>[^<]*: 9 deliveries, 4 failed</title>", page)


def test_dashboard_needs_view_permission(client, demo_providers):
    client.force_login(User.objects.create_user("nobody", password="a-long-password-1", is_staff=True))
    assert client.get(reverse(URL)).status_code == 403
