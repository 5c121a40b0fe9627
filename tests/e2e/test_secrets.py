"""Distinctive credentials never appear in logs, task payloads, pages, errors or CLI output."""

import io
import logging

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_q.models import OrmQ

from core.models import AuditEntry
from events.models import Delivery, DeliveryAttempt, Event, Receipt
from events.services.sending import send_due
from providers.models import ModeChange, ProviderConfig
from tests.conftest import AWS_TEST_SECRET, EVENTGRID_TEST_KEY, RECEIVER_API_KEY, RECEIVER_TOKEN, WEBHOOK_TEST_SECRET
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db
SECRETS = (
    AWS_TEST_SECRET,
    EVENTGRID_TEST_KEY,
    RECEIVER_TOKEN,
    RECEIVER_API_KEY,
    WEBHOOK_TEST_SECRET.removeprefix("whsec_"),
)


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a credential leaked into {where}"


def test_credentials_leak_nowhere(
    production_providers,
    pubsub_standin,
    eventgrid_sink,
    webhook_endpoint,
    admin_client,
    client,
    make_receiver,
    caplog,
    capfd,
):
    caplog.set_level(logging.DEBUG)  # every logger, SDKs included, at their most verbose
    configs = list(production_providers.values())
    grid, bridge = production_providers["azure_eventgrid"], production_providers["aws_eventbridge"]
    make_receiver(grid)
    make_receiver(bridge, auth="api_key", secret_env="TEST_RECEIVER_API_KEY")

    # Publishes that succeed, through the queue (task rows kept) and sent in-process.
    queued = publish_event(event_type="OrderPlaced", source="com.test", data={"a": 1}, providers=configs)
    for config in configs:
        send_due(provider_id=config.pk)
    # Failures: Event Grid refuses the key, the webhook the signature, Pub/Sub lost its topic,
    # EventBridge unreachable.
    eventgrid_sink.responses.append((401, {}))
    webhook_endpoint.responses.append((401, {}))
    pubsub_standin.topics.clear()
    aws = production_providers["aws_eventbridge"]
    aws.aws_endpoint_url = "http://127.0.0.1:9"
    aws.save()
    publish_event(event_type="OrderPlaced", source="com.test", data={"a": 2}, providers=configs)
    for config in configs:
        send_due(provider_id=config.pk)
    assert Delivery.objects.filter(status="succeeded").count() == len(configs)
    assert Delivery.objects.exclude(status="succeeded").count() == len(configs)

    # The CLI: publish, list, check.
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("publish", "--provider", "all", "--sync", "--yes", "--timeout", "2", stdout=out, stderr=out)
    call_command("providers", "list", stdout=out)
    with pytest.raises(SystemExit):
        call_command("providers", "check", stdout=out, stderr=out)
    assert_no_secret(out.getvalue(), "CLI output")

    # Round-trip receivers: wrong and right secrets, and bodies that carry them.
    grid_url = reverse("receive_eventgrid", args=[grid.pk])
    carrying = [{"id": "e-1", "eventType": "T", "data": {"echo": RECEIVER_TOKEN, "token": RECEIVER_API_KEY}}]
    for token in (RECEIVER_TOKEN[:-1], RECEIVER_TOKEN):
        client.post(f"{grid_url}?token={token}", carrying, content_type="application/json")
    bridge_body = {"id": "m-1", "detail": {"metadata": {"event_id": "x"}, "data": {"k": RECEIVER_API_KEY}}}
    for key in ("wrong", RECEIVER_API_KEY):
        client.post(
            reverse("receive_eventbridge", args=[bridge.pk]),
            bridge_body,
            content_type="application/json",
            headers={"x-api-key": key},
        )
    assert Receipt.objects.count() == 2

    # Admin pages, including the production switch confirmation.
    admin_client.post(
        reverse("admin:providers_providerconfig_changelist"),
        {"action": "switch_to_demo", "_selected_action": [c.pk for c in configs]},
    )
    confirmation = admin_client.post(
        reverse("admin:providers_providerconfig_changelist"),
        {"action": "switch_to_production", "_selected_action": [configs[2].pk]},
    )
    pages = [confirmation.content.decode()]
    urls = [
        reverse("admin:providers_providerconfig_changelist"),
        reverse("admin:events_delivery_changelist"),
        reverse("admin:events_event_changelist"),
        reverse("admin:providers_modechange_changelist"),
        reverse("admin:core_auditentry_changelist"),
        reverse("admin:events_event_change", args=[queued.pk]),
        reverse("admin:events_event_status", args=[queued.pk]),
        reverse("admin:events_receipt_changelist"),
    ]
    urls += [reverse("admin:events_receipt_change", args=[r.pk]) for r in Receipt.objects.all()]
    urls += [reverse("admin:providers_providerconfig_change", args=[c.pk]) for c in configs]
    urls += [reverse("admin:events_delivery_change", args=[d.pk]) for d in Delivery.objects.all()]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    assert_no_secret("\n".join(pages), "an admin page")

    # What the database keeps: errors, attempts, checks, audit, task payloads.
    stored = [d.last_error for d in Delivery.objects.all()]
    stored += [a.error_message for a in DeliveryAttempt.objects.all()]
    stored += [c.last_check_message for c in ProviderConfig.objects.all()]
    stored += [m.effective_reason for m in ModeChange.objects.all()]
    stored += [f"{a.summary} {a.details}" for a in AuditEntry.objects.all()]
    assert AuditEntry.objects.count() >= 5
    stored += [str(t.task) + t.payload for t in OrmQ.objects.all()]
    stored += [r.body for r in Receipt.objects.all()]
    assert OrmQ.objects.count() >= 3
    assert_no_secret("\n".join(stored), "the database")

    # Every log record (formatted with its arguments) and everything printed.
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert len(caplog.records) > 20
    assert_no_secret(logged, "a log line")
    printed = capfd.readouterr()
    assert_no_secret(printed.out + printed.err, "stdout/stderr")
    assert Event.objects.count() >= 3
