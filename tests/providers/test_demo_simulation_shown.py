"""A demo config set to fail says so wherever its health is shown (the operations home, the
dashboard, `providers list`), its connection test fails when every send is set to fail, and the
dashboard leads with what is wrong (an open circuit, failing attempts) before any success rate."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from events.services.sending import send_due
from providers.models import ProviderRuntime
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing(make_provider):
    return make_provider("aws-demo", "aws_eventbridge", demo_failure_rate=1.0, demo_latency_ms=2500, max_attempts=1)


def test_the_check_fails_a_demo_set_to_fail_every_send_and_the_list_says_why(failing, make_provider):
    make_provider("gcp-flaky", "gcp_pubsub", demo_failure_rate=0.3)
    out = io.StringIO()
    with pytest.raises(SystemExit) as status:
        call_command("providers", "check", stdout=out)
    assert status.value.code == 1
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()}
    assert "FAILED" in lines["aws-demo"] and "set to fail every send (demo failure rate 100 %)" in lines["aws-demo"]
    assert "PASSED" in lines["gcp-flaky"] and "30 % of sends fail on purpose" in lines["gcp-flaky"]
    listed = io.StringIO()
    call_command("providers", "list", stdout=listed)
    assert "demo mode selected: no cloud is called; 100 % of sends fail on purpose, about 2,500 ms a call" in (
        listed.getvalue()
    )


def test_the_home_and_the_dashboard_say_a_demo_fails_on_purpose_and_lead_with_it(admin_client, failing):
    for n in range(3):
        publish_event(event_type="OrderPlaced", source="com.test", data={"n": n}, providers=[failing], ring=False)
    send_due(provider_id=failing.pk)
    ProviderRuntime.objects.filter(provider=failing).update(
        circuit_state="open", circuit_changed_at=timezone.now() - timedelta(seconds=5)
    )
    home = admin_client.get(reverse("admin:index")).content.decode()
    assert "demo: 100 % of sends fail on purpose, about 2,500 ms a call" in home
    dashboard = admin_client.get(reverse("admin:events_dashboard")).content.decode()
    attention = dashboard.split('id="helios-dashboard-attention"')[1].split("</div>")[0]
    assert "circuit open until" in attention
    assert "100.0 % of attempts failed in 24 h (3 of 3)" in attention
    assert "demo: 100 % of sends fail on purpose" in attention
    assert dashboard.index("helios-dashboard-attention") < dashboard.index('data-field="success_rate"')


def test_a_healthy_dashboard_has_nothing_to_lead_with(admin_client, make_provider):
    config = make_provider("gcp-demo", "gcp_pubsub")
    publish_event(event_type="OrderPlaced", source="com.test", data={}, providers=[config], ring=False)
    send_due(provider_id=config.pk)
    dashboard = admin_client.get(reverse("admin:events_dashboard")).content.decode()
    assert "helios-dashboard-attention" not in dashboard and "helios-muted" not in dashboard
