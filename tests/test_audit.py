"""The audit trail records sends, retries, mode switches, config changes and tests: who, what, from where."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.models import AuditEntry
from events.models import Delivery, Event
from events.services.sending import send_due

pytestmark = pytest.mark.django_db


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_console_send_and_retry_are_audited_with_user_and_address(admin_client, admin_user, make_provider):
    config = make_provider("gcp-x", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=1)
    admin_client.post(
        reverse("admin:events_event_compose"),
        {"event_type": "OrderPlaced", "source": "com.test", "data": "{}", "providers": [config.pk]},
    )
    event = Event.objects.get()
    [publish] = entries("publish")
    assert (publish.actor, publish.remote_addr, publish.target) == (admin_user, "127.0.0.1", f"event {event.pk}")
    assert publish.summary == "Published OrderPlaced to gcp-x (demo)"
    send_due(provider_id=config.pk)
    admin_client.post(
        reverse("admin:events_delivery_changelist"),
        {"action": "retry_selected", "_selected_action": [Delivery.objects.get().pk]},
    )
    [retry] = entries("retry")
    assert (retry.actor, retry.summary) == (admin_user, "Retry now: 1 deliveries")


def test_cli_actions_are_audited_as_cli(demo_providers):
    call_command("publish", "--provider", "aws", "--sync", stdout=io.StringIO())
    call_command("retry", "--provider", "aws-demo", stdout=io.StringIO())  # nothing failed: nothing to audit
    [publish] = entries("publish")
    assert (publish.actor, publish.remote_addr) == (None, "cli")
    assert entries("retry") == []


def test_config_changes_switches_and_tests_are_audited(admin_client, admin_user, make_provider):
    config = make_provider("az", "azure_eventgrid")
    url = reverse("admin:providers_providerconfig_change", args=[config.pk])
    page = admin_client.get(url)
    form = page.context["adminform"].form
    management = page.context["inline_admin_formsets"][0].formset.management_form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data |= {management.add_prefix(name): value for name, value in management.initial.items()}
    data |= {"max_attempts": 12, "demo_failure_rate": 0.25, "enabled": "on"}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    [change] = entries("config_change")
    assert change.summary == "Changed demo_failure_rate, max_attempts"
    assert change.details["fields"] == {"demo_failure_rate": "0.25", "max_attempts": "12"}

    receiver = {
        "receiver-TOTAL_FORMS": 1,
        "receiver-0-enabled": "on",
        "receiver-0-method": "push",
        "receiver-0-pull_batch": 500,
        "receiver-0-pull_wait_seconds": 10,
        "receiver-0-healing": "off",
        "receiver-0-healing_max_per_hour": 100,
        "receiver-0-healing_max_age_hours": 24,
        "receiver-0-auth": "token",
        "receiver-0-secret_env": "AZ_RECEIVER_TOKEN",
        "receiver-0-api_key_header": "x-api-key",
        "receiver-0-oidc_issuers": "https://accounts.google.com",
        "receiver-0-oidc_certs_url": "https://www.googleapis.com/oauth2/v1/certs",
        "receiver-0-max_body_bytes": 1048576,
        "receiver-0-grace_seconds": 300,
        "receiver-0-demo_arrival_seconds": 2,
        "receiver-0-demo_loss_rate": 0.0,
        "receiver-0-demo_duplicate_rate": 0.0,
    }
    response = admin_client.post(url, data | receiver)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert config.receiver.secret_env == "AZ_RECEIVER_TOKEN"
    assert entries("config_change")[-1].summary.startswith("Receiver: changed ")
    page = admin_client.get(url).content.decode()
    assert "/receive/eventgrid/" in page and "AZ_RECEIVER_TOKEN is NOT set" in page

    changelist = reverse("admin:providers_providerconfig_changelist")
    admin_client.post(
        changelist,
        {"action": "switch_to_production", "_selected_action": [config.pk], "confirm": "yes", "reason": "CHG-42"},
    )
    admin_client.post(changelist, {"action": "test_connection", "_selected_action": [config.pk]})
    [switch] = entries("mode_switch")
    assert switch.summary.startswith("demo → production (effective: demo): CHG-42")
    [test] = entries("connection_test")
    assert test.summary.startswith("Cloud connection test failed: credentials do not resolve")
    assert {e.actor for e in AuditEntry.objects.all()} == {admin_user}


def test_the_trail_is_read_only_and_filterable(admin_client, demo_providers):
    call_command("publish", "--provider", "gcp", "--sync", stdout=io.StringIO())
    entry = AuditEntry.objects.get()
    listing = reverse("admin:core_auditentry_changelist")
    assert "Published OrderPlaced" in admin_client.get(listing, {"action__exact": "publish"}).content.decode()
    assert "Published OrderPlaced" not in admin_client.get(listing, {"action__exact": "retry"}).content.decode()
    assert admin_client.post(reverse("admin:core_auditentry_delete", args=[entry.pk])).status_code == 403
    assert admin_client.get(reverse("admin:core_auditentry_add")).status_code == 403


def test_resubmitting_failed_tasks_needs_the_change_permission_and_is_audited(client, db):
    from django.contrib.auth.models import Group, Permission, User
    from django.utils import timezone
    from django_q.models import Failure, OrmQ, Task

    now = timezone.now()
    Task.objects.create(
        id="a" * 32, name="send-provider-1-x", func="events.tasks.sweep", started=now, stopped=now, success=False
    )
    url = reverse("admin:django_q_failure_changelist")
    action = {"action": "resubmit_tasks", "_selected_action": ["a" * 32]}

    viewer = User.objects.create_user("viewer", password="a-long-password-1", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_failure"))
    client.force_login(viewer)
    assert client.get(url).status_code == 200
    client.post(url, action)
    assert (OrmQ.objects.count(), Failure.objects.count(), AuditEntry.objects.count()) == (0, 1, 0)

    admin_role = User.objects.create_user("ops-admin", password="a-long-password-1", is_staff=True)
    admin_role.groups.add(Group.objects.get(name="Admin"))
    client.force_login(admin_role)
    assert client.post(url, action).status_code == 302
    assert (OrmQ.objects.count(), Failure.objects.count()) == (1, 0)
    [entry] = AuditEntry.objects.filter(action="task_resubmit")
    assert (entry.actor, entry.summary) == (admin_role, "Resubmitted 1 task(s): send-provider-1-x")
