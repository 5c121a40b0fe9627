"""Settings from the environment: a bad value names its variable, ranges are checked, DEBUG is off
unless asked for, every variable is documented, and a missing SDK is a configuration error in words."""

import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, subprocess_env


def manage_check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HELIOS_SEND_BATCH_SIZE": "0"}, "HELIOS_SEND_BATCH_SIZE must be from 1 to 10000; it is 0."),
        ({"HELIOS_LEASE_SECONDS": "sixty"}, "HELIOS_LEASE_SECONDS must be a whole number, not 'sixty'."),
        ({"HELIOS_PROVIDER_TIMEOUT_SECONDS": "1e9"}, "HELIOS_PROVIDER_TIMEOUT_SECONDS must be from 0.1 to 600"),
        ({"Q_WORKERS": "-2"}, "Q_WORKERS must be from 1 to 64; it is -2."),
    ],
)
def test_a_bad_number_names_its_variable(env, message):
    result = manage_check(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_debug_is_off_unless_asked_for():
    result = manage_check(DEBUG="", SECRET_KEY="")
    assert result.returncode != 0 and "SECRET_KEY must be set when DEBUG is off." in result.stderr
    assert manage_check(DEBUG="true").returncode == 0


def test_behind_pgbouncer_no_server_side_cursors_are_used():
    show = "from django.db import connection; print(connection.settings_dict['DISABLE_SERVER_SIDE_CURSORS'])"
    postgres = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test", "DEBUG": "true"}
    for behind, expected in (("true", "True"), ("false", "False")):
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", show],
            cwd=PROJECT_ROOT,
            env=subprocess_env(**postgres, DATABASE_BEHIND_PGBOUNCER=behind),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip().splitlines()[-1] == expected, result.stderr


def test_env_example_lists_every_variable_the_settings_read():
    settings_text = (PROJECT_ROOT / "helios_site" / "settings.py").read_text()
    read = set(re.findall(r'(?:env\.\w+|number)\(\s*"([A-Z][A-Z0-9_]+)"', settings_text))
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    assert read, "no variable found: the pattern no longer matches settings.py"
    assert sorted(read - documented) == []


def test_a_missing_sdk_is_a_configuration_error_in_words(monkeypatch):
    from providers.clients.base import ClientSettings
    from providers.clients.lazy_sdk import SdkMissing
    from providers.kinds import build_client

    monkeypatch.setitem(sys.modules, "boto3", None)  # as if boto3 were not installed
    client = build_client(
        ClientSettings(
            name="aws-prod",
            kind="aws_eventbridge",
            options={"region": "eu-west-1", "event_bus": "default", "source": "com.x", "max_entry_bytes": 262144},
        ),
        mode="production",
    )
    with pytest.raises(SdkMissing, match=r"The SDK for aws-prod is not installed \(boto3\): install requirements.txt"):
        client.sdk  # noqa: B018


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": "x"}, "SECRET_KEY is too weak: use at least 50 random characters"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY is too weak"),
        (
            {"SECRET_KEY": "replace-with-a-long-random-string-from-your-secret-store"},
            "SECRET_KEY still holds the example's placeholder",
        ),
        (
            {"HELIOS_METRICS_TOKEN": "replace-with-a-random-token-from-your-secret-store"},
            "HELIOS_METRICS_TOKEN still holds the example's placeholder",
        ),
        ({"HELIOS_METRICS_TOKEN": "short"}, "HELIOS_METRICS_TOKEN is too weak: use at least 16"),
    ],
)
def test_a_production_process_refuses_placeholder_and_weak_secrets(env, message):
    strong = {"SECRET_KEY": "k3y-" + "".join(chr(ord("a") + n % 26) for n in range(60))}
    result = manage_check(DEBUG="false", ALLOWED_HOSTS="helios.example.com", **{**strong, **env})
    assert result.returncode != 0
    assert message in result.stderr
    assert manage_check(DEBUG="false", ALLOWED_HOSTS="helios.example.com", **strong).returncode == 0
