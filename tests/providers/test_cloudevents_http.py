"""CloudEvents over HTTP: content modes, Standard Webhooks signatures checked by an independent
implementation (the stand-in's), answers classified, redirects not followed, endpoint rules, a
kind without a round trip on every page and command."""

import io
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.clients.base import ClientSettings, Outcome, OutgoingEvent
from providers.endpoints import connection_problem, endpoint_problem
from providers.kinds import SPECS, build_client
from providers.kinds.cloudevents_http.client import retry_after_seconds
from providers.kinds.cloudevents_http.options import URL_ENDPOINT
from providers.models import ReceiverSettings
from providers.modes import effective_mode, forget_credentials
from tests.conftest import WEBHOOK_TEST_SECRET
from tests.standins import WebhookEndpoint


def webhook(endpoint: WebhookEndpoint, mode: str = "structured", secret: str = WEBHOOK_TEST_SECRET, **options):
    settings_ = ClientSettings(
        "webhook",
        "cloudevents_http",
        {"url": endpoint.endpoint, "content_mode": mode, "max_request_bytes": 1048576} | options,
        timeout_seconds=3.0,
        credentials={"secret": secret},
    )
    return build_client(settings_, mode="production")


def event(subject: str = "orders/o-1", data: dict | None = None) -> OutgoingEvent:
    return OutgoingEvent(
        str(uuid.uuid4()),
        "OrderPlaced",
        "com.test.shop",
        subject,
        datetime.now(UTC),
        {"n": 1} if data is None else data,
    )


@pytest.mark.parametrize("mode", ["structured", "binary", "batched"])
def test_each_content_mode_arrives_signed_and_whole(webhook_endpoint, mode):
    sent = [event(f"orders/o-{i}", {"i": i, "name": "Zoë"}) for i in range(3)]
    client = webhook(webhook_endpoint, mode)
    results = client.publish(sent)
    client.close()
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * 3
    assert [r.message_id for r in results] == [e.id for e in sent]
    posts = [r for r in webhook_endpoint.requests if r.body]
    assert len(posts) == (1 if mode == "batched" else 3)
    assert all(r.status == 200 for r in posts)  # the stand-in verified every signature itself
    received = webhook_endpoint.accepted_events()
    assert [(e["id"], e["subject"], e["data"]) for e in received] == [(e.id, e.subject, e.data) for e in sent]
    assert {e["specversion"] for e in received} == {"1.0"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subject=st.text(min_size=1, max_size=60).filter(lambda s: "\x00" not in s),
    data=st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=20), max_size=4),
)
def test_binary_mode_carries_any_subject_and_data_exactly(webhook_endpoint, subject, data):
    webhook_endpoint.requests.clear()
    sent = event(subject, data)
    client = webhook(webhook_endpoint, "binary")
    [result] = client.publish([sent])
    client.close()
    assert result.ok, result
    [received] = webhook_endpoint.accepted_events()
    assert (received["subject"], received["data"]) == (subject, data)


def test_a_wrong_secret_is_refused_by_the_receiver_and_fails_permanently(webhook_endpoint):
    other = "whsec_" + "b3RoZXItc2VjcmV0LWJ5dGVzLTEyMzQ1Njc4"
    [result] = webhook(webhook_endpoint, secret=other).publish([event()])
    assert webhook_endpoint.requests[-1].status == 401
    assert result.outcome is Outcome.PERMANENT_ERROR
    assert "signature" in result.error_message and result.error_code == "HTTP 401"


def test_the_same_event_keeps_its_webhook_id_across_retries(webhook_endpoint):
    webhook_endpoint.responses.append((503, {}))
    client = webhook(webhook_endpoint)
    sent = event()
    [first] = client.publish([sent])
    [second] = client.publish([sent])
    client.close()
    assert (first.outcome, second.outcome) == (Outcome.RETRYABLE_ERROR, Outcome.SUCCEEDED)
    ids = [r.headers["webhook-id"] for r in webhook_endpoint.requests]
    assert ids == [sent.id, sent.id]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, Outcome.RETRYABLE_ERROR),
        (503, Outcome.RETRYABLE_ERROR),
        (408, Outcome.RETRYABLE_ERROR),
        (400, Outcome.PERMANENT_ERROR),
        (404, Outcome.PERMANENT_ERROR),
        (413, Outcome.PERMANENT_ERROR),
    ],
)
def test_answers_are_classified(webhook_endpoint, status, outcome):
    webhook_endpoint.fail_always = status
    [result] = webhook(webhook_endpoint).publish([event()])
    assert result.outcome is outcome and result.status_code == status
    assert result.error_code == f"HTTP {status}" and result.error_message.endswith(".")


def test_a_redirect_is_not_followed(webhook_endpoint):
    elsewhere = WebhookEndpoint(WEBHOOK_TEST_SECRET)
    try:
        webhook_endpoint.fail_always = (307, {"Location": elsewhere.endpoint})
        [result] = webhook(webhook_endpoint).publish([event()])
        assert result.outcome is Outcome.PERMANENT_ERROR
        assert "does not follow redirects" in result.error_message
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()


def test_retry_after_as_seconds_or_an_http_date():
    assert retry_after_seconds("12") == 12.0
    later = datetime.now(UTC) + timedelta(seconds=90)
    assert 80 < retry_after_seconds(format_datetime(later, usegmt=True)) <= 90
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_an_event_over_the_request_size_fails_before_sending(webhook_endpoint):
    client = webhook(webhook_endpoint, max_request_bytes=2048)
    results = client.publish([event(data={"pad": "x" * 4000}), event()])
    assert [r.outcome for r in results] == [Outcome.PERMANENT_ERROR, Outcome.SUCCEEDED]
    assert "2,048 bytes per request" in results[0].error_message
    assert len([r for r in webhook_endpoint.requests if r.body]) == 1


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://169.254.169.254/latest", "link-local or cloud metadata"),
        ("https://metadata.google.internal/x", "link-local or cloud metadata"),
        ("https://10.1.2.3/hook", "not a public address"),
        ("https://localhost/hook", "not a public address"),
        ("http://events.example.com/hook", "Use https"),
    ],
)
def test_the_endpoint_must_be_public_https_unless_the_deployment_allows_it(settings, url, words):
    settings.HELIOS_ALLOWED_ENDPOINTS = []
    assert words in endpoint_problem(URL_ENDPOINT, url)


def test_public_https_endpoints_are_allowed_and_allowed_private_ones_too(settings):
    settings.HELIOS_ALLOWED_ENDPOINTS = ["10.0.0.0/8"]
    assert endpoint_problem(URL_ENDPOINT, "https://broker.example.com/default/orders") == ""
    assert endpoint_problem(URL_ENDPOINT, "https://93.184.215.14/hook") == ""
    assert endpoint_problem(URL_ENDPOINT, "http://10.1.2.3:8080/hook") == ""


def test_a_name_that_points_at_a_private_address_now_gets_nothing(webhook_endpoint, settings):
    """A name checked at save time is looked up again before each request (it may have moved)."""
    settings.HELIOS_ALLOWED_ENDPOINTS = []
    url = f"https://localhost:{webhook_endpoint.port}/cloudevents"
    assert "not a public address (127.0.0.1" in connection_problem(URL_ENDPOINT, url)
    client = build_client(
        ClientSettings(
            "w",
            "cloudevents_http",
            {"url": url, "content_mode": "structured"},
            credentials={"secret": WEBHOOK_TEST_SECRET},
        ),
        mode="production",
    )
    [result] = client.publish([event()])
    assert result.outcome is Outcome.PERMANENT_ERROR and "not a public address" in result.error_message
    assert webhook_endpoint.requests == []


@pytest.mark.django_db
def test_without_a_usable_secret_the_config_stays_in_demo_and_says_why(production, make_provider, monkeypatch):
    config = make_provider("hook", "cloudevents_http", mode="production", credentials_env_prefix="HOOK_")
    assert "set HOOK_WEBHOOK_SECRET" in effective_mode(config).reason
    monkeypatch.setenv("HOOK_WEBHOOK_SECRET", "whsec_!!!not-base64!!!")
    forget_credentials()  # resolved credentials are kept 30 s per process
    mode = effective_mode(config)
    assert mode.mode == "demo" and "is not a Standard Webhooks secret" in mode.reason
    assert "!!!not-base64" not in mode.reason


@pytest.mark.django_db
class TestNoRoundTrip:
    """The kind declares no receiver: no receiver URL, no round-trip form, the CLI says so."""

    def test_no_receiver_url(self):
        assert [s.name for s in SPECS if s.receiver is None] == ["cloudevents_http"]
        paths = {s.receiver.path for s in SPECS if s.receiver is not None}
        assert all(reverse(f"receive_{path}", args=[1]) for path in paths)

    def test_the_config_page_has_no_round_trip_section(self, admin_client, make_provider):
        config = make_provider("hook", "cloudevents_http")
        page = admin_client.get(reverse("admin:providers_providerconfig_change", args=[config.pk]))
        assert page.status_code == 200
        assert b"CloudEvents over HTTP" in page.content and b"receiver-0-" not in page.content

    def test_receiver_settings_are_refused_in_words(self, make_provider):
        config = make_provider("hook", "cloudevents_http")
        with pytest.raises(ValidationError, match="has no round trip"):
            ReceiverSettings(provider=config, auth="token", secret_env="X").full_clean()

    def test_reconcile_says_there_is_nothing_to_compare(self, make_provider):
        make_provider("hook", "cloudevents_http")
        with pytest.raises(CommandError, match="nothing comes back from it") as refused:
            call_command("reconcile", "--provider", "hook", stdout=io.StringIO())
        assert refused.value.returncode == 2


def test_only_the_start_of_a_large_answer_is_read_and_kept(webhook_endpoint):
    webhook_endpoint.responses.append((500, {}, b"x" * 5_000_000))
    [result] = webhook(webhook_endpoint).publish([event()])
    assert result.outcome is Outcome.RETRYABLE_ERROR
    assert result.response.startswith("HTTP 500: xxx") and len(result.response) <= 2048 + len("HTTP 500: ")
