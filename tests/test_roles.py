"""Role groups exist after migrate and each is enforced server-side."""

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.urls import reverse

from events.models import Delivery, Event
from events.services.sending import send_due
from providers.models import ModeChange
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


def member(client, role: str) -> User:
    user = User.objects.create_user(f"{role.lower()}-user", password="a-long-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def compose(client, providers):
    return client.post(
        reverse("admin:events_event_compose"),
        {"event_type": "OrderPlaced", "source": "com.test", "data": "{}", "providers": [p.pk for p in providers]},
    )


def test_groups_are_created_by_migrate_and_by_the_command():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Viewer", "Publisher", "Operator", "Admin"}
    Group.objects.get(name="Operator").permissions.clear()
    call_command("roles", stdout=io.StringIO())
    assert Group.objects.get(name="Operator").permissions.filter(codename="retry_delivery").exists()


def test_viewer_reads_history_but_cannot_send(client, demo_providers):
    event = publish_event(event_type="T", source="s", data={}, providers=demo_providers, ring=False)
    member(client, "Viewer")
    assert client.get(reverse("admin:events_event_change", args=[event.pk])).status_code == 200
    assert client.get(reverse("admin:events_delivery_changelist")).status_code == 200
    assert client.get(reverse("admin:events_event_compose")).status_code == 403
    assert compose(client, demo_providers).status_code == 403
    assert Event.objects.count() == 1


def test_publisher_sends_but_cannot_retry(client, make_provider):
    config = make_provider("p", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=1)
    member(client, "Publisher")
    assert compose(client, [config]).status_code == 302
    send_due(provider_id=config.pk)
    delivery = Delivery.objects.get()
    client.post(
        reverse("admin:events_delivery_changelist"), {"action": "retry_selected", "_selected_action": [delivery.pk]}
    )
    delivery.refresh_from_db()
    assert delivery.status == "dead"


def test_operator_retries_but_cannot_switch_to_production(client, make_provider):
    config = make_provider("p", "gcp_pubsub", demo_failure_rate=1.0, max_attempts=1)
    publish_event(event_type="T", source="s", data={}, providers=[config], ring=False)
    send_due(provider_id=config.pk)
    member(client, "Operator")
    client.post(
        reverse("admin:events_delivery_changelist"),
        {"action": "retry_selected", "_selected_action": [Delivery.objects.get().pk]},
    )
    assert Delivery.objects.get().status == "retrying"
    response = client.post(
        reverse("admin:providers_providerconfig_changelist"),
        {
            "action": "switch_to_production",
            "_selected_action": [config.pk],
            "confirm": "yes",
            "reason": "not mine to do",
        },
    )
    assert response.status_code == 200  # the action is ignored: Operators are not offered it
    listing = client.get(reverse("admin:providers_providerconfig_changelist")).content.decode()
    assert 'value="switch_to_production"' not in listing
    config.refresh_from_db()
    assert config.mode == "demo"
    assert ModeChange.objects.count() == 0


def test_admin_role_switches_to_production(client, make_provider):
    config = make_provider("p", "gcp_pubsub")
    member(client, "Admin")
    client.post(
        reverse("admin:providers_providerconfig_changelist"),
        {"action": "switch_to_production", "_selected_action": [config.pk], "confirm": "yes", "reason": "go-live"},
    )
    config.refresh_from_db()
    assert config.mode == "production"
    assert ModeChange.objects.get().reason == "go-live"


def test_a_refused_page_is_a_console_page_naming_the_permission_and_the_roles(client, demo_providers):
    member(client, "Viewer")
    response = client.get(reverse("admin:events_event_compose"))
    page = response.content.decode()
    assert response.status_code == 403
    assert "HELIOS operations console" in page  # inside the console, not a bare "403 Forbidden"
    assert (
        "To compose and send events you need the permission “Can add event” (roles: Publisher, Operator, Admin)."
        in page
    )
    assert "with the role Viewer" in page
    admin_only = client.get(reverse("admin:core_auditentry_changelist"))
    assert admin_only.status_code == 403  # a stock admin page: the permission named too
    assert "To open audit entries you need the permission “Can view audit entry” (roles: Admin)." in (
        admin_only.content.decode()
    )


def test_a_viewer_sees_no_button_it_cannot_use(client, demo_providers):
    event = publish_event(event_type="T", source="s", data={}, providers=demo_providers[:1], ring=False)
    member(client, "Viewer")
    page = client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert 'id="helios-deliveries"' in page and 'id="helios-duplicate"' not in page
    home = client.get(reverse("admin:index")).content.decode()
    assert 'id="helios-compose"' not in home and 'id="helios-bulk"' not in home and 'id="helios-dashboard"' in home
    assert client.get(reverse("admin:events_eventtemplate_changelist")).status_code == 200  # README: templates too
    client.logout()
    member(client, "Publisher")
    page = client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert 'id="helios-duplicate"' in page


def test_a_role_is_given_by_command_one_at_a_time_and_audited(django_user_model):
    from core.models import AuditEntry

    alice = django_user_model.objects.create_user("alice", password="x")
    out = io.StringIO()
    call_command("roles", "assign", "alice", "operator", stdout=out)
    assert out.getvalue().strip() == "alice is now Operator; staff status on."
    alice.refresh_from_db()
    assert alice.is_staff and list(alice.groups.values_list("name", flat=True)) == ["Operator"]
    assert alice.has_perm("events.retry_delivery")
    again = io.StringIO()
    call_command("roles", "assign", "alice", "Viewer", stdout=again)
    assert again.getvalue().strip() == "alice is now Viewer (was Operator); staff status on."
    alice = django_user_model.objects.get(pk=alice.pk)  # fresh permission cache
    assert list(alice.groups.values_list("name", flat=True)) == ["Viewer"]
    assert not alice.has_perm("events.retry_delivery")
    entry = AuditEntry.objects.filter(action="role_assign").first()
    assert entry.summary == "alice is now Viewer (was Operator)" and entry.remote_addr == "cli"
    listed = io.StringIO()
    call_command("roles", "list", stdout=listed)
    assert any(line.startswith("Viewer") and line.endswith("users: alice") for line in listed.getvalue().splitlines())


@pytest.mark.parametrize(
    ("operands", "message"),
    [
        (["nobody", "Viewer"], "No user 'nobody': create it first"),
        (["alice", "Superhero"], "No role 'Superhero': choose one of Viewer, Publisher, Operator, Admin."),
        (["alice"], "Usage: manage.py roles assign USER ROLE"),
    ],
)
def test_assigning_an_unknown_user_or_role_exits_2(django_user_model, operands, message):
    from django.core.management.base import CommandError

    django_user_model.objects.create_user("alice", password="x")
    with pytest.raises(CommandError) as refused:
        call_command("roles", "assign", *operands, stdout=io.StringIO())
    assert refused.value.returncode == 2 and message in str(refused.value)
