"""`manage.py publish --wait` in production mode, a real worker, the three stand-ins."""

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, subprocess_env

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def publish_all(timeout: int = 30, *, confirm: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "manage.py"),
            "publish",
            "--provider",
            "all",
            "--wait",
            "--timeout",
            str(timeout),
            "--order-id",
            "o-1",
            "--amount",
            "10",
            *(["--yes"] if confirm else []),
        ],
        cwd=PROJECT_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )


def test_every_kind_succeeds_in_production_then_a_stand_in_down_fails_in_words(
    production_providers, eventbridge_target, pubsub_standin, eventgrid_sink, webhook_endpoint, qcluster
):
    from events.models import Event

    refused = publish_all(confirm=False)  # no terminal to ask on, no --yes: nothing is sent
    assert refused.returncode == 2
    names = "aws-prod, azure-prod, gcp-prod, webhook-prod"
    assert f"This sends to PRODUCTION: {names}. Add --yes to confirm." in refused.stderr
    assert not Event.objects.exists()
    result = publish_all()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("production  SUCCESS  message id") == 4
    assert "4 deliveries: 4 succeeded" in result.stdout
    assert len(eventbridge_target.received(1)) == 1
    assert len(pubsub_standin.messages) == 1
    assert len(eventgrid_sink.requests) == 1
    assert [e["data"]["order_id"] for e in webhook_endpoint.accepted_events()] == ["o-1"]  # signature verified

    azure = production_providers["azure_eventgrid"]
    azure.max_attempts = 1
    azure.save()
    eventgrid_sink.stop()
    result = publish_all()
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 3
    assert "FAILED   ServiceRequestError: Could not reach the Event Grid endpoint" in result.stdout
    assert "4 deliveries: 1 dead, 3 succeeded" in result.stdout
