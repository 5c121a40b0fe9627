"""API keys: made (console and CLI) with the secret shown once, stored as a hash, listed, revoked."""

import hashlib
import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.models import AuditAction, AuditEntry
from gateway.models import ApiKey

pytestmark = pytest.mark.django_db


def test_the_cli_prints_the_key_once_on_its_own_last_line_and_stores_its_hash(demo_providers, api_post):
    out, err = io.StringIO(), io.StringIO()
    call_command("apikeys", "create", "billing", "--provider", "aws-demo", "--expires", "30d", stdout=out, stderr=err)
    secret = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get(name="billing")
    assert secret.startswith(f"hk_{key.prefix}_") and key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in err.getvalue() and "shown this once" in err.getvalue()
    assert key.expires_at is not None and [p.name for p in key.providers.all()] == ["aws-demo"]
    body = {"type": "T", "source": "s", "data": {}, "providers": ["aws-demo"]}
    assert api_post(secret, body).status_code == 202
    listing = io.StringIO()
    call_command("apikeys", "list", stdout=listing)
    assert "billing" in listing.getvalue() and secret not in listing.getvalue()
    call_command("apikeys", "revoke", "billing", stdout=io.StringIO())
    assert api_post(secret, body).status_code == 401
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert AuditAction.API_KEY_CREATE in actions and AuditAction.API_KEY_REVOKE in actions


def test_the_cli_refuses_unknown_providers_and_bad_expiry_with_exit_2(demo_providers):
    with pytest.raises(CommandError) as error:
        call_command("apikeys", "create", "x", "--provider", "nope", stdout=io.StringIO())
    assert error.value.returncode == 2 and "Unknown provider config: nope." in str(error.value)
    with pytest.raises(CommandError) as error:
        call_command("apikeys", "create", "x", "--expires", "soon", stdout=io.StringIO())
    assert error.value.returncode == 2
    assert not ApiKey.objects.exists()


def test_the_console_shows_a_new_keys_secret_once_and_admins_only_make_keys(client, admin_client, demo_providers):
    aws = next(c for c in demo_providers if c.name == "aws-demo")
    response = admin_client.post(
        reverse("admin:gateway_apikey_add"), {"name": "orders", "providers": [aws.pk], "rate_limit_per_minute": ""}
    )
    page = response.content.decode()
    key = ApiKey.objects.get(name="orders")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert f"hk_{key.prefix}_" in page and "shown this once" in page
    assert [p.name for p in key.providers.all()] == ["aws-demo"]
    again = admin_client.get(reverse("admin:gateway_apikey_change", args=[key.pk])).content.decode()
    listing = admin_client.get(reverse("admin:gateway_apikey_changelist")).content.decode()
    assert f"hk_{key.prefix}_" not in again + listing and key.prefix in listing
    operator = User.objects.create_user("op", password="a-long-password-1", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operator"))
    client.force_login(operator)
    assert client.get(reverse("admin:gateway_apikey_changelist")).status_code == 403
