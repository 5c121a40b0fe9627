"""Production readiness: health, metrics equal to the database, JSON logs with context and without
secrets, the deploy check, and login lock-out."""

import json
import logging
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.audit import Actor
from core.heartbeat import beat
from core.logs import ContextFilter, JsonFormatter, RedactSecrets
from core.models import Heartbeat
from events.models import Delivery, DeliveryAttempt, HourlyStats
from events.services.operator import retry_now
from events.services.sending import send_due
from tests.conftest import PROJECT_ROOT
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


# --- Health ---------------------------------------------------------------------------------


def test_healthz_answers_without_dependencies(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_needs_a_fresh_worker_heartbeat(client, demo_providers):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": "no worker has beaten yet (is `manage.py worker` running?)",
    }
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"] == {"ok": True, "detail": "all applied"}
    beat()
    body = client.get("/readyz").json()
    assert body["ready"] is True
    assert [p["name"] for p in body["providers"]] == ["aws-demo", "azure-demo", "gcp-demo"]
    assert body["providers"][0] == {
        "name": "aws-demo",
        "kind": "aws_eventbridge",
        "enabled": True,
        "mode": "demo",
        "circuit": "closed",
        "last_check_ok": None,
    }
    Heartbeat.objects.update(at=timezone.now() - timedelta(minutes=10))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["detail"].startswith("the last worker heartbeat is 600 s old")


def test_readyz_tells_anyone_only_ready_or_not_and_operators_why(client, demo_providers, settings):
    outside = {"REMOTE_ADDR": "203.0.113.5"}
    response = client.get("/readyz", **outside)
    assert (response.status_code, response.json()) == (503, {"ready": False})
    beat()
    assert client.get("/readyz", **outside).json() == {"ready": True}
    settings.HELIOS_METRICS_TOKEN = "a-metrics-token-for-the-test"
    with_token = client.get("/readyz", HTTP_AUTHORIZATION="Bearer a-metrics-token-for-the-test", **outside)
    assert with_token.json()["checks"]["worker"]["ok"] is True
    assert "providers" in with_token.json()
    assert client.get("/readyz").json() == {"ready": True}  # loopback no longer suffices with a token set


def test_readyz_never_goes_by_the_beat_of_a_worker_that_is_gone(client, demo_providers):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    beat()
    Heartbeat.objects.update(pid=gone.pid)  # it beat a moment ago, on this host, and has exited since
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["detail"].endswith(f"pid {gone.pid}) is no longer running")


def test_a_worker_process_beats_as_it_starts(demo_providers):
    from django_q.signals import post_spawn

    assert not Heartbeat.objects.exists()
    post_spawn.send(sender="django_q", proc_name="Process-1")  # what django-q2 sends from a new worker
    assert Heartbeat.objects.get(name="worker").pid == os.getpid()


def test_the_sweeper_task_beats(sync_tasks, demo_providers):
    from events.tasks import sweep

    sweep()
    assert Heartbeat.objects.get(name="worker").pid == os.getpid()


# --- Metrics --------------------------------------------------------------------------------


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_equal_the_database_after_successes_failures_and_retries(client, make_provider):
    ok = make_provider("ok", "gcp_pubsub")
    flaky = make_provider(
        "flaky", "azure_eventgrid", demo_failure_rate=1.0, max_attempts=3, circuit_failure_threshold=3
    )
    for _ in range(4):
        publish_event(event_type="T", source="s", data={}, providers=[ok, flaky], ring=False)
    send_due(provider_id=ok.pk)
    send_due(provider_id=flaky.pk)  # 4 retryable failures: the circuit opens after 3
    retry_now(deliveries=Delivery.objects.filter(provider=flaky))  # due now, but the circuit is open
    send_due(provider_id=flaky.pk)
    publish_event(event_type="T", source="s", data={}, providers=[ok], ring=False)  # pending
    samples = scrape(client)

    for row in Delivery.objects.values("provider__name", "provider__kind", "mode", "status").distinct():
        labels = (
            ("kind", row["provider__kind"]),
            ("mode", row["mode"]),
            ("provider", row["provider__name"]),
            ("status", row["status"]),
        )
        expected = Delivery.objects.filter(
            provider__name=row["provider__name"], mode=row["mode"], status=row["status"]
        ).count()
        assert samples[("helios_deliveries", labels)] == expected
    ok_succeeded = (("kind", "gcp_pubsub"), ("mode", "demo"), ("provider", "ok"), ("status", "succeeded"))
    assert samples[("helios_deliveries", ok_succeeded)] == 4
    for outcome in ("succeeded", "retryable_error"):
        for name in ("ok", "flaky"):
            expected = DeliveryAttempt.objects.filter(delivery__provider__name=name, outcome=outcome).count()
            labels = (("outcome", outcome), ("provider", name))
            assert samples.get(("helios_delivery_attempts_total", labels), 0) == expected
    assert samples[("helios_backlog", (("provider", "ok"), ("status", "pending")))] == 1
    assert samples[("helios_backlog", (("provider", "flaky"), ("status", "retrying")))] == 4
    assert samples[("helios_oldest_pending_age_seconds", (("provider", "flaky"),))] > 0
    assert samples[("helios_circuit_state", (("provider", "flaky"), ("state", "open")))] == 1
    assert samples[("helios_circuit_state", (("provider", "ok"), ("state", "closed")))] == 1
    stats = HourlyStats.objects.get(provider=ok)
    assert samples[("helios_publish_latency_seconds_count", (("provider", "ok"),))] == stats.succeeded == 4
    assert samples[("helios_publish_latency_seconds_sum", (("provider", "ok"),))] == stats.latency_sum_ms / 1000
    assert samples[("helios_publish_latency_seconds_bucket", (("le", "+Inf"), ("provider", "ok")))] == 4
    assert samples[("helios_worker_heartbeat_age_seconds", ())] == float("inf")


def test_metrics_are_protected(client, settings, demo_providers):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404
    settings.HELIOS_METRICS_TOKEN = "metrics-token-123456"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    scrape(client, Authorization="Bearer metrics-token-123456")


# --- Logs -----------------------------------------------------------------------------------


def json_handler(stream: StringIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    return handler


def test_a_request_id_and_the_provider_reach_the_json_log_lines(client, make_provider, make_receiver):
    grid = make_provider("grid", "azure_eventgrid")
    make_receiver(grid)
    stream = StringIO()
    handler = json_handler(stream)
    receivers_logger = logging.getLogger("events.receivers")
    receivers_logger.addHandler(handler)
    try:
        from tests.conftest import RECEIVER_TOKEN

        response = client.post(
            reverse("receive_eventgrid", args=[grid.pk]) + f"?token={RECEIVER_TOKEN}",
            [{"id": "e-1", "eventType": "T", "data": {}}],
            content_type="application/json",
            headers={"X-Request-ID": "req-42"},
        )
    finally:
        receivers_logger.removeHandler(handler)
    assert response["X-Request-ID"] == "req-42"
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["request_id"], line["levelname"]) == ("req-42", "INFO")
    assert line["message"] == "receiver grid: 1 new, 0 duplicate, 0 confirmed"
    unsafe = "bad id with spaces"
    assert client.get("/healthz", headers={"X-Request-ID": unsafe})["X-Request-ID"] != unsafe


def test_secrets_are_removed_whatever_a_caller_logs(monkeypatch):
    monkeypatch.setenv("ORDERS_EVENTGRID_ACCESS_KEY", "eg-key-that-must-not-leak")
    stream = StringIO()
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(json_handler(stream))
    logger.propagate = False
    try:
        logger.warning("sending with %s", "eg-key-that-must-not-leak")
        logger.warning('config {"password": "hunter2", "aws_secret_access_key": "wJalrXUt"} token=abc123')
        try:
            raise ValueError("bad key eg-key-that-must-not-leak")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    text = stream.getvalue()
    for secret in ("eg-key-that-must-not-leak", "hunter2", "wJalrXUt", "abc123"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["message"] == "sending with [redacted]"
    redacted = '{"password": "[redacted]", "aws_secret_access_key": "[redacted]"} token=[redacted]'
    assert lines[1]["message"] == f"config {redacted}"
    assert "ValueError: bad key [redacted]" in lines[2]["exc_info"]


@pytest.mark.django_db(transaction=True)
def test_every_line_of_a_production_publish_is_json_and_secret_free(
    production_providers, eventgrid_sink, pubsub_standin
):
    from tests.conftest import AWS_TEST_SECRET, EVENTGRID_TEST_KEY, subprocess_env

    eventgrid_sink.responses.append((401, {}))  # one failure in words, too
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "manage.py"),
            "publish",
            "--provider",
            "all",
            "--sync",
            "--yes",
            "--timeout",
            "5",
        ],
        cwd=PROJECT_ROOT,
        env=subprocess_env(LOG_FORMAT="json", LOG_LEVEL="DEBUG"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The web process's start-up lines (helios.json events) go through the same formatter.
    web = subprocess.run(
        [sys.executable, "-c", "import helios_site.wsgi"],
        cwd=PROJECT_ROOT,
        env=subprocess_env(LOG_FORMAT="json", LOG_LEVEL="DEBUG", DJANGO_SETTINGS_MODULE="helios_site.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in (result.stderr + web.stderr).splitlines() if line.strip()]
    assert len(lines) > 10, result.stderr + web.stderr
    records = [json.loads(line) for line in lines]  # every log line is one JSON object
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
    loggers = {record["logger"] for record in records}
    assert {"botocore.endpoint", "azure.core.pipeline.policies.http_logging_policy"} <= loggers
    modes = [r for r in records if r["message"] == "provider_mode"]
    assert {r["provider"] for r in modes} == {"aws-prod", "gcp-prod", "azure-prod", "webhook-prod"}
    assert all(r["process"] == "web" and r["mode"] == "production" for r in modes)
    for secret in (AWS_TEST_SECRET, EVENTGRID_TEST_KEY):
        assert secret not in result.stderr + result.stdout + web.stderr


# --- Hardened settings ----------------------------------------------------------------------


def production_example_env() -> dict[str, str]:
    values = {}
    for line in (PROJECT_ROOT / ".env.production.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_check_deploy_is_clean_with_the_production_example_once_its_secrets_are_set():
    """As the operator fills it in: every placeholder replaced by a secret (left in, HELIOS refuses
    to start: tests/test_settings.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "DEBUG"))}
    example = production_example_env()
    filled = {name: secrets.token_urlsafe(48) if "replace-with-" in value else value for name, value in example.items()}
    assert filled != example
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env={**env, **filled},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_repeated_failed_logins_lock_the_account_out(client, settings):
    User.objects.create_superuser("ops", password="the-right-password-9")
    login = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(login, {"username": "ops", "password": "wrong"})
        assert response.status_code == 200  # the form again, with an error
    assert client.post(login, {"username": "ops", "password": "wrong"}).status_code == 429  # the limit
    locked = client.post(login, {"username": "ops", "password": "the-right-password-9"})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    User.objects.create_superuser("other", password="the-right-password-9")
    assert client.post(login, {"username": "other", "password": "the-right-password-9"}).status_code == 302


def test_behind_a_load_balancer_a_lock_out_keys_on_the_client_not_the_balancer(client, settings):
    """All requests come from the balancer's address; X-Forwarded-For names the client (the balancer
    appends it, right-most). One client's failures lock that client out, not everyone."""
    settings.HELIOS_PROXY_COUNT = 1
    User.objects.create_superuser("admin", password="the-right-password-9")
    login = reverse("admin:login")
    balancer = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = {**balancer, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    spoofing = {**balancer, "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.7"}  # the left part is the client's
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login, {"username": "admin", "password": "wrong"}, **attacker)
    assert client.post(login, {"username": "admin", "password": "the-right-password-9"}, **spoofing).status_code == 429
    operator = {**balancer, "HTTP_X_FORWARDED_FOR": "192.0.2.44"}
    signed_in = client.post(login, {"username": "admin", "password": "the-right-password-9"}, **operator)
    assert signed_in.status_code == 302
    request = RequestFactory().get("/", **operator)
    request.user = User.objects.get(username="admin")
    assert Actor.from_request(request).remote_addr == "192.0.2.44"
    settings.HELIOS_PROXY_COUNT = 0
    assert Actor.from_request(request).remote_addr == "10.0.0.2"


def test_worker_log_lines_carry_the_provider_delivery_and_event(make_provider):
    from events.services.sending import claim_due, send_claimed
    from events.services.sweeper import sweep

    config = make_provider("p", "gcp_pubsub")
    event = publish_event(event_type="T", source="s", data={}, providers=[config], ring=False)
    token, claimed = claim_due(provider_id=config.pk, limit=10)
    Delivery.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    sweep()
    stream = StringIO()
    handler = json_handler(stream)
    services_logger = logging.getLogger("events.services")
    services_logger.addHandler(handler)
    try:
        from events.services.sending import send_due

        send_claimed(config=config, token=token, deliveries=claimed)  # the lease was lost meanwhile
        config.enabled = False
        config.save()
        send_due(provider_id=config.pk)
    finally:
        services_logger.removeHandler(handler)
    lost, disabled = [json.loads(line) for line in stream.getvalue().splitlines()]
    delivery = Delivery.objects.get()
    assert (lost["delivery_id"], lost["event_id"]) == (str(delivery.pk), str(event.pk))
    assert lost["message"].startswith(f"delivery {delivery.pk}: lease lost")
    assert (disabled["provider"], disabled["message"]) == ("p", "provider p is disabled: its deliveries wait")
