"""Connection tests, and audited, permissioned switches between demo and production."""

import io
import os
import socket
import time

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.urls import reverse

from providers.models import ModeChange, ProviderConfig
from tests.conftest import AWS_TEST_SECRET, EVENTGRID_TEST_KEY

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:providers_providerconfig_changelist"


class TestConnectionCheck:
    def test_each_stand_in_passes_and_the_result_is_stored(self, production_providers):
        out = io.StringIO()
        call_command("providers", "check", stdout=out)
        text = out.getvalue()
        assert "aws-prod" in text and "event bus helios-" in text
        assert "topic projects/helios-test/topics/orders found" in text
        assert "endpoint reachable and credentials accepted (the probe event was refused as intended)" in text
        assert "it accepted HELIOS as a sender (CloudEvents webhook handshake)" in text
        assert text.count("PASSED") == len(production_providers)
        for config in ProviderConfig.objects.all():
            assert config.last_check_ok is True and config.last_check_at is not None

    def test_failures_are_explained_and_exit_1(self, production_providers, pubsub_standin, eventgrid_sink):
        pubsub_standin.topics.clear()
        eventgrid_sink.responses.append((401, {}))
        out = io.StringIO()
        with pytest.raises(SystemExit) as exit_:
            call_command("providers", "check", "gcp-prod", "azure-prod", stdout=out)
        assert exit_.value.code == 1
        assert "NOT_FOUND: The topic does not exist in this project." in out.getvalue()
        assert "HTTP 401: Event Grid rejected the access key or SAS token." in out.getvalue()
        assert ProviderConfig.objects.get(name="gcp-prod").last_check_ok is False

    def test_missing_bus_and_missing_credentials(self, production_providers, monkeypatch):
        aws = production_providers["aws_eventbridge"]
        aws.aws_event_bus = "missing-bus"
        aws.save()
        out = io.StringIO()
        with pytest.raises(SystemExit):
            call_command("providers", "check", "aws-prod", stdout=out)
        assert "ResourceNotFoundException: The event bus does not exist" in out.getvalue()
        monkeypatch.delenv("TEST_EVENTGRID_ACCESS_KEY")
        from providers.live_clients import close_clients

        close_clients()
        with pytest.raises(SystemExit):
            call_command("providers", "check", "azure-prod", stdout=out)
        assert "credentials do not resolve: set TEST_EVENTGRID_ACCESS_KEY" in out.getvalue()

    def test_unknown_name_exits_2(self, production_providers):
        with pytest.raises(CommandError) as error:
            call_command("providers", "check", "nope", stdout=io.StringIO())
        assert error.value.returncode == 2

    def test_admin_action_tests_and_shows_the_result(self, admin_client, production_providers):
        config = production_providers["gcp_pubsub"]
        response = admin_client.post(
            reverse(CHANGELIST), {"action": "test_connection", "_selected_action": [config.pk]}, follow=True
        )
        page = response.content.decode()
        assert "Connection test of gcp-prod passed: topic projects/helios-test/topics/orders found" in page
        assert (
            "passed"
            in admin_client.get(reverse("admin:providers_providerconfig_change", args=[config.pk])).content.decode()
        )


def operator(*codenames: str) -> User:
    user = User.objects.create_user("op", password="op-password-123", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


class TestModeSwitch:
    def switch_url(self):
        return reverse(CHANGELIST)

    def test_confirmation_page_shows_facts_but_never_the_secret(self, admin_client, production, make_provider):
        config = make_provider("az", "azure_eventgrid", credentials_env_prefix="TEST_")
        page = admin_client.post(
            self.switch_url(), {"action": "switch_to_production", "_selected_action": [config.pk]}
        ).content.decode()
        assert "Switch az to production?" in page
        assert "HELIOS_DEPLOYMENT_MODE=production" in page
        assert "access key from TEST_EVENTGRID_ACCESS_KEY" in page
        assert "never run" in page
        assert EVENTGRID_TEST_KEY not in page
        config.refresh_from_db()
        assert config.mode == "demo"  # nothing changes before confirmation

    def test_confirmed_switch_is_audited_with_who_why_and_from_where(
        self, admin_client, admin_user, production, make_provider
    ):
        config = make_provider("az", "azure_eventgrid", credentials_env_prefix="TEST_")
        admin_client.post(
            self.switch_url(),
            {
                "action": "switch_to_production",
                "_selected_action": [config.pk],
                "confirm": "yes",
                "reason": "go-live CHG-1234",
            },
        )
        config.refresh_from_db()
        assert config.mode == "production"
        change = ModeChange.objects.get()
        assert (change.from_mode, change.to_mode, change.changed_by, change.reason) == (
            "demo",
            "production",
            admin_user,
            "go-live CHG-1234",
        )
        assert change.effective_mode == "production"
        assert change.remote_addr == "127.0.0.1"
        audit = admin_client.get(reverse("admin:providers_modechange_changelist")).content.decode()
        assert "go-live CHG-1234" in audit

    def test_a_reason_is_required(self, admin_client, make_provider):
        config = make_provider("az", "azure_eventgrid")
        page = admin_client.post(
            self.switch_url(),
            {"action": "switch_to_production", "_selected_action": [config.pk], "confirm": "yes", "reason": "  "},
        ).content.decode()
        assert "Give a reason for switching to production" in page
        assert ModeChange.objects.count() == 0

    def test_switch_without_the_deployment_switch_is_recorded_as_still_demo(self, admin_client, make_provider):
        config = make_provider("az", "azure_eventgrid")
        admin_client.post(
            self.switch_url(),
            {"action": "switch_to_production", "_selected_action": [config.pk], "confirm": "yes", "reason": "prepare"},
        )
        change = ModeChange.objects.get()
        assert change.effective_mode == "demo"
        assert "does not allow production" in change.effective_reason

    def test_without_the_permission_the_switch_is_refused(self, client, make_provider):
        config = make_provider("az", "azure_eventgrid")
        client.force_login(operator("view_providerconfig", "change_providerconfig"))
        response = client.post(
            self.switch_url(),
            {"action": "switch_to_production", "_selected_action": [config.pk], "confirm": "yes", "reason": "sneaky"},
        )
        assert response.status_code in (200, 302)
        config.refresh_from_db()
        assert config.mode == "demo"
        assert ModeChange.objects.count() == 0

    def test_mode_cannot_be_edited_on_the_form(self, admin_client, make_provider):
        config = make_provider("az", "azure_eventgrid")
        response = admin_client.get(reverse("admin:providers_providerconfig_change", args=[config.pk]))
        page = response.content.decode()
        assert response.status_code == 200 and 'name="azure_endpoint"' in page  # the form is there, editable
        assert 'name="mode"' not in page  # but not the mode: that is switched, confirmed and audited
        response = admin_client.post(
            reverse("admin:providers_providerconfig_change", args=[config.pk]), {"mode": "production"}
        )
        config.refresh_from_db()
        assert config.mode == "demo"

    def test_switching_back_to_demo_is_allowed_without_the_permission_and_audited(self, client, make_provider):
        config = make_provider("az", "azure_eventgrid", mode="production")
        user = operator("view_providerconfig", "change_providerconfig")
        client.force_login(user)
        client.post(self.switch_url(), {"action": "switch_to_demo", "_selected_action": [config.pk]})
        config.refresh_from_db()
        assert config.mode == "demo"
        change = ModeChange.objects.get()
        assert (change.from_mode, change.to_mode, change.changed_by) == ("production", "demo", user)


def test_secrets_never_show_in_pages(admin_client, production_providers):
    for config in production_providers.values():
        response = admin_client.get(reverse("admin:providers_providerconfig_change", args=[config.pk]))
        page = response.content.decode()
        assert response.status_code == 200 and config.name in page
        assert AWS_TEST_SECRET not in page and EVENTGRID_TEST_KEY not in page
    aws = production_providers["aws_eventbridge"]
    page = admin_client.get(reverse("admin:providers_providerconfig_change", args=[aws.pk])).content.decode()
    assert "TEST_AWS_ACCESS_KEY_ID" in page  # where the credentials come from is shown, never the secret


def test_the_providers_command_runs_from_a_shell_with_system_checks(tmp_path):
    """Through manage.py (not call_command, which skips system checks): a method named `check`
    once shadowed BaseCommand.check and crashed every `providers` call."""
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    env = {**os.environ, "SQLITE_PATH": str(tmp_path / "cli.sqlite3")}
    env.pop("DATABASE_URL", None)
    for args in (["migrate", "-v0"], ["providers", "bootstrap"], ["providers", "list"]):
        result = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "manage.py"), *args], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    assert "aws-demo" in result.stdout and "demo mode selected" in result.stdout


class TestBoundedConnectionCheck:
    """A connection test ends within the provider timeout (3 s here), SDK retries included, and says
    what happened; before, Pub/Sub's default retry kept going for 600 s."""

    #: Far below the 600 s the SDK would retry for; far above 3 s, however loaded the machine.
    BOUND_SECONDS = 40

    def test_pubsub_unavailable_ends_within_the_timeout(self, production_providers, pubsub_standin):
        import grpc

        pubsub_standin.fail_get_topic = grpc.StatusCode.UNAVAILABLE
        started = time.monotonic()
        out = io.StringIO()
        with pytest.raises(SystemExit):
            call_command("providers", "check", "gcp-prod", stdout=out)
        assert time.monotonic() - started < self.BOUND_SECONDS
        assert "UNAVAILABLE: Pub/Sub was unavailable." in out.getvalue()
        assert pubsub_standin.get_topic_calls > 1  # the SDK did retry, within the bound

    def test_a_cloud_that_never_answers_is_reported_as_a_timeout(self, production_providers):
        silent = socket.socket()  # accepts connections (kernel backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        azure = production_providers["azure_eventgrid"]
        azure.azure_endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}/api/events"
        azure.save()
        started = time.monotonic()
        try:
            out = io.StringIO()
            with pytest.raises(SystemExit):
                call_command("providers", "check", "azure-prod", stdout=out)
        finally:
            silent.close()
        assert time.monotonic() - started < self.BOUND_SECONDS
        # Said by the SDK's own read timeout, or by HELIOS's deadline when the SDK would go on longer.
        assert "timed out" in out.getvalue() or "TIMEOUT: no answer from the cloud within 3 s" in out.getvalue()
        assert ProviderConfig.objects.get(name="azure-prod").last_check_ok is False


class TestProductionTarget:
    """Pointing a production config elsewhere is as grave as switching it to production: the
    permission, the config's name typed as confirmation, and an audit entry with before and after."""

    def form_data(self, client, config) -> tuple[str, dict]:
        url = reverse("admin:providers_providerconfig_change", args=[config.pk])
        page = client.get(url)
        assert page.status_code == 200
        form = page.context["adminform"].form
        data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
        for inline in page.context["inline_admin_formsets"]:  # the receiver, where the user may see it
            management = inline.formset.management_form
            data |= {management.add_prefix(name): value for name, value in management.initial.items()}
        return url, data | {"enabled": "on"}

    def test_an_operator_without_the_switch_permission_cannot_retarget_production(self, client, make_provider):
        from django.contrib.auth.models import Group

        config = make_provider(
            "az",
            "azure_eventgrid",
            mode="production",
            azure_endpoint="https://good.westeurope-1.eventgrid.azure.net/api",
        )
        user = User.objects.create_user("cfg", password="a-long-password-1", is_staff=True)
        user.user_permissions.add(
            *Permission.objects.filter(codename__in=["view_providerconfig", "change_providerconfig"])
        )
        assert not Group.objects.filter(user=user).exists()
        client.force_login(user)
        url, data = self.form_data(client, config)
        response = client.post(
            url,
            data
            | {
                "azure_endpoint": "https://evil.westeurope-1.eventgrid.azure.net/api",
                "confirm_production_target": "az",
            },
        )
        assert response.status_code == 200
        assert "needs the permission to switch providers to production" in response.content.decode()
        config.refresh_from_db()
        assert config.azure_endpoint == "https://good.westeurope-1.eventgrid.azure.net/api"
        # Fields that do not retarget it stay editable for them.
        response = client.post(url, data | {"max_attempts": 9})
        assert response.status_code == 302

    def test_the_name_must_be_typed_and_the_change_is_audited_with_before_and_after(self, admin_client, make_provider):
        from core.models import AuditEntry

        config = make_provider(
            "az",
            "azure_eventgrid",
            mode="production",
            azure_endpoint="https://good.westeurope-1.eventgrid.azure.net/api",
        )
        url, data = self.form_data(admin_client, config)
        change = data | {"azure_endpoint": "https://new.westeurope-1.eventgrid.azure.net/api"}
        refused = admin_client.post(url, change)
        assert refused.status_code == 200
        assert "Type its name, az, in the confirmation field to save." in refused.content.decode()
        assert admin_client.post(url, change | {"confirm_production_target": "not-az"}).status_code == 200
        config.refresh_from_db()
        assert config.azure_endpoint == "https://good.westeurope-1.eventgrid.azure.net/api"

        assert admin_client.post(url, change | {"confirm_production_target": "az"}).status_code == 302
        config.refresh_from_db()
        assert config.azure_endpoint == "https://new.westeurope-1.eventgrid.azure.net/api"
        entry = AuditEntry.objects.filter(action="config_change").latest("at")
        assert entry.summary == "PRODUCTION target changed (confirmed by name): azure_endpoint"
        assert entry.details["before"] == {"azure_endpoint": "https://good.westeurope-1.eventgrid.azure.net/api"}
        assert entry.details["fields"] == {"azure_endpoint": "https://new.westeurope-1.eventgrid.azure.net/api"}

    def test_a_demo_config_is_retargeted_freely(self, admin_client, make_provider):
        config = make_provider(
            "az", "azure_eventgrid", azure_endpoint="https://good.westeurope-1.eventgrid.azure.net/api"
        )
        url, data = self.form_data(admin_client, config)
        assert (
            admin_client.post(
                url, data | {"azure_endpoint": "https://other.westeurope-1.eventgrid.azure.net/api"}
            ).status_code
            == 302
        )
