"""The operations home: what it says needs attention, and the figures it shows, from real sends."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from core.heartbeat import beat
from events.models import Delivery
from events.services.sending import send_due
from providers.models import ProviderConfig
from tests.publishing import publish_event
from tests.test_roles import member

pytestmark = pytest.mark.django_db
HOME, SECTION = "admin:index", "admin:operations"


def publish(config, n=1):
    return [
        publish_event(event_type="OrderPlaced", source="com.test", data={"n": i}, providers=[config], ring=False)
        for i in range(n)
    ]


def attention(client) -> str:
    page = client.get(reverse(SECTION)).content.decode()
    start = page.find('id="helios-attention"')
    return page[start : page.find("</div>", start)] if start >= 0 else ""


def test_a_healthy_demo_setup_with_a_worker_is_all_clear(admin_client, demo_providers):
    beat()
    for config in demo_providers:
        publish(config, 2)
        send_due(provider_id=config.pk)
    page = admin_client.get(reverse(HOME)).content.decode()
    assert 'id="helios-all-clear"' in page and 'id="helios-attention"' not in page
    assert "0.0 % of 2" in page  # each provider: 2 attempts in 15 min, none failed


def test_final_failures_overdue_backlog_and_a_production_config_stuck_in_demo_need_attention(
    admin_client, demo_providers, make_provider
):
    beat()
    aws = next(c for c in demo_providers if c.name == "aws-demo")
    [event] = publish(aws)
    send_due(provider_id=aws.pk)
    Delivery.objects.filter(event=event).update(status="dead", last_error_code="X", last_error="gone")
    from events import stats

    stats.add(provider_id=aws.pk, at=timezone.now(), failed=1)
    gcp = next(c for c in demo_providers if c.name == "gcp-demo")
    publish(gcp, 2)
    Delivery.objects.filter(provider=gcp).update(next_attempt_at=timezone.now() - timedelta(minutes=12))
    make_provider("aws-prod", "aws_eventbridge", mode="production")  # the deployment forbids production

    text = attention(admin_client)
    assert "aws-demo: 1 delivery failed for good in the last 24 hours." in text
    assert "status__in=failed,dead" in text
    assert "gcp-demo: deliveries due since" in text and "(2 not final)" in text
    assert "aws-prod should send to production but sends in demo: production requested, but this deployment" in text
    assert "No worker" not in text
    for link in re.findall(r'href="([^"]+)"', admin_client.get(reverse(SECTION)).content.decode()):
        response = admin_client.get(html.unescape(link))
        assert response.status_code == 200, link
    failed = admin_client.get(
        reverse("admin:events_delivery_changelist"), {"provider__id__exact": aws.pk, "status__in": "failed,dead"}
    )
    assert failed.content.decode().count('class="field-status_badge"') == 1


def test_a_batch_latency_is_shared_by_its_deliveries(demo_providers):
    azure = next(c for c in demo_providers if c.name == "azure-demo")
    ProviderConfig.objects.filter(pk=azure.pk).update(demo_latency_ms=400)
    azure.refresh_from_db()
    publish(azure, 4)  # one Event Grid batch: one ~400 ms call for four events
    send_due(provider_id=azure.pk)
    delivery = Delivery.objects.filter(provider=azure).first()
    call = delivery.attempt_log.get()
    call_ms = (call.finished_at - call.started_at).total_seconds() * 1000
    assert call_ms >= 200  # the simulated call (400 ms ± 50 %)
    assert abs(delivery.latency_ms - call_ms / 4) <= call_ms / 4 * 0.25 + 5


def test_the_section_needs_the_history_permission(client, demo_providers):
    member(client, "Viewer")
    assert client.get(reverse(SECTION)).status_code == 200
    assert 'id="helios-operations"' in client.get(reverse(HOME)).content.decode()
    nobody = User.objects.create_user("staff-only", password="a-long-password-1", is_staff=True)
    client.force_login(nobody)
    assert client.get(reverse(SECTION)).status_code == 403
    assert 'id="helios-operations"' not in client.get(reverse(HOME)).content.decode()


def test_a_worker_cluster_that_stalled_needs_attention_and_fails_readyz_until_a_worker_starts(
    admin_client, client, demo_providers
):
    from core.models import WorkerStall

    beat()
    WorkerStall.objects.create(
        at=timezone.now(),
        host="worker-1",
        pid=4242,
        waiting_tasks=3,
        stalled_seconds=15.2,
        busy_workers=0,
        idle_workers=2,
    )
    shown = attention(admin_client)
    assert "A worker cluster on worker-1 stalled at" in shown
    assert "3 task(s) waited 15 s and none of its workers (2 idle, 0 busy) took one" in shown
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "stalled at" in ready.json()["checks"]["worker"]["detail"]
    beat()  # a fresh cluster's worker starts
    assert client.get("/readyz").status_code == 200
    assert "stalled at" in attention(admin_client)  # still listed for the hour: it happened
