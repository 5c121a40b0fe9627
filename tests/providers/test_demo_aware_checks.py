"""A demo config's connection test says what demo does; the real cloud is a separate, readiness
test that never calls a demo config broken. A config's own page carries its buttons."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.models import AuditEntry
from providers.models import ProviderConfig, ProviderRuntime

pytestmark = pytest.mark.django_db
CHANGE = "admin:providers_providerconfig_change"


def test_a_fresh_demo_setup_checks_healthy_without_calling_a_cloud(demo_providers):
    out = io.StringIO()
    call_command("providers", "check", stdout=out)  # exits 0: no SystemExit
    text = out.getvalue()
    assert text.count("PASSED") == 3 and "FAILED" not in text
    assert "demo: no cloud call; simulated settings OK (no failures, no latency)" in text
    assert set(ProviderConfig.objects.values_list("last_check_ok", flat=True)) == {None}  # no cloud test stored
    assert AuditEntry.objects.filter(summary__startswith="Connection test (demo) passed").count() == 3


def test_a_demo_check_fails_on_what_demo_would_refuse(make_provider):
    config = make_provider("aws-small", "aws_eventbridge")
    ProviderConfig.objects.filter(pk=config.pk).update(aws_source="aws.reserved")  # as if edited in the database
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("providers", "check", "aws-small", stdout=out)
    assert exit_.value.code == 1
    assert "FAILED  demo: Sources starting with 'aws.' are reserved for AWS services." in out.getvalue()


def test_the_cloud_test_of_a_demo_config_is_readiness_and_stored(production_providers, make_provider):
    ready, not_ready = production_providers["gcp_pubsub"], make_provider("azure-demo", "azure_eventgrid")
    ProviderConfig.objects.filter(pk=ready.pk).update(mode="demo")
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("providers", "check", "--cloud", "gcp-prod", not_ready.name, stdout=out)
    assert "gcp-prod             PASSED  topic projects/helios-test/topics/orders found" in out.getvalue()
    assert f"{not_ready.name:<20} FAILED" in out.getvalue()
    ready.refresh_from_db()
    assert ready.last_check_ok is True


def test_the_list_names_mode_circuit_and_target(demo_providers):
    aws = next(c for c in demo_providers if c.kind == "aws_eventbridge")
    ProviderRuntime.objects.create(provider=aws, circuit_state="open", circuit_reason="5 failures in a row")
    ProviderRuntime.objects.filter(provider=aws).update(circuit_changed_at="2026-11-27T20:13:35Z")
    out = io.StringIO()
    call_command("providers", "list", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["NAME", "KIND", "STATE", "MODE", "CIRCUIT", "TARGET"]
    row = next(line for line in lines if line.startswith(aws.name))
    assert "open until 20:14:05 UTC" in row and "eu-west-1 · bus default · source com.helios.demo" in row


class TestTheConfigPage:
    def test_carries_test_and_switch_buttons_that_come_back_to_it(self, admin_client, demo_providers):
        config = demo_providers[0]
        page = admin_client.get(reverse(CHANGE, args=[config.pk])).content.decode()
        for action in ("test_connection", "test_cloud", "switch_to_production"):
            assert f'data-action="{action}"' in page
        assert 'data-action="switch_to_demo"' not in page
        response = admin_client.post(
            reverse("admin:providers_providerconfig_changelist"),
            {"action": "test_connection", "_selected_action": [config.pk], "next": reverse(CHANGE, args=[config.pk])},
            follow=True,
        )
        assert response.redirect_chain[-1][0] == reverse(CHANGE, args=[config.pk])
        assert f"Connection test of {config.name} passed: demo: no cloud call" in response.content.decode()

    def test_a_failed_readiness_test_is_a_warning_that_demo_is_unaffected(self, admin_client, demo_providers):
        config = demo_providers[0]
        response = admin_client.post(
            reverse("admin:providers_providerconfig_changelist"),
            {"action": "test_cloud", "_selected_action": [config.pk], "next": "https://evil.example/"},
            follow=True,
        )
        assert response.redirect_chain[-1][0] == reverse("admin:providers_providerconfig_changelist")  # not off-site
        page = response.content.decode()
        assert f"{config.name} is not ready for production (demo sending is not affected)" in page
        assert 'class="warning"' in page
        assert "demo: no cloud call · production readiness failed" in page  # the list: no red badge

    def test_the_switch_page_does_not_promise_production_the_deployment_forbids(self, admin_client, demo_providers):
        page = admin_client.post(
            reverse("admin:providers_providerconfig_changelist"),
            {"action": "switch_to_production", "_selected_action": [demo_providers[0].pk]},
        ).content.decode()
        assert "This deployment does not allow production (HELIOS_DEPLOYMENT_MODE=demo)" in page
        assert "Once switched, events sent to" not in page
