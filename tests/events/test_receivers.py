"""Round-trip receivers: each cloud's documented payloads and SDK-produced ones, authentication,
bad bodies, duplicates and confirmation of the matching delivery."""

import base64
import io
import json
import uuid

import pytest
from django.urls import reverse

from events.models import Delivery, Receipt
from events.services.publishing import publish_event
from tests.conftest import RECEIVER_API_KEY, RECEIVER_TOKEN

pytestmark = pytest.mark.django_db

#: Event Grid's documented subscription validation event (learn.microsoft.com, "Webhook event delivery").
VALIDATION_EVENT = [
    {
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": "/subscriptions/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        "subject": "",
        "data": {
            "validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
            "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/myeventsub/validate?id=0000",
        },
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2018-01-25T22:12:19.4556811Z",
        "metadataVersion": "1",
        "dataVersion": "1",
    }
]

#: Pub/Sub's documented push request body (cloud.google.com, "Push subscriptions").
PUSH_SAMPLE = {
    "message": {
        "attributes": {"key": "value"},
        "data": "SGVsbG8gQ2xvdWQgUHViL1N1YiEgSGVyZSBpcyBteSBtZXNzYWdlIQ==",
        "messageId": "2070443601311540",
        "message_id": "2070443601311540",
        "publishTime": "2021-02-26T19:13:55.749Z",
        "publish_time": "2021-02-26T19:13:55.749Z",
    },
    "subscription": "projects/myproject/subscriptions/mysubscription",
}


def eventbridge_event(event_id: str, **detail: object) -> dict:
    """An EventBridge event as an API destination delivers it (the documented event structure)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "OrderPlaced",
        "source": "com.test.orders",
        "account": "123456789012",
        "time": "2026-11-27T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"metadata": {"event_id": event_id, "source": "com.test", "subject": "orders/1"}, "data": detail},
    }


@pytest.fixture
def grid(make_provider, make_receiver):
    config = make_provider("grid", "azure_eventgrid")
    make_receiver(config)
    return config


@pytest.fixture
def pubsub(make_provider, make_receiver):
    config = make_provider("pubsub", "gcp_pubsub")
    make_receiver(config)
    return config


@pytest.fixture
def bridge(make_provider, make_receiver):
    config = make_provider("bridge", "aws_eventbridge")
    make_receiver(config, auth="api_key", secret_env="TEST_RECEIVER_API_KEY")
    return config


def url(name: str, config, token: str | None = RECEIVER_TOKEN) -> str:
    base = reverse(f"receive_{name}", args=[config.pk])
    return f"{base}?token={token}" if token else base


def post_json(client, target: str, body, content_type="application/json", **headers):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(target, data=data, content_type=content_type, headers=headers)


# --- Event Grid ---------------------------------------------------------------------------


def test_eventgrid_subscription_validation_answers_the_code_and_stores_nothing(client, grid):
    response = post_json(
        client, url("eventgrid", grid), VALIDATION_EVENT, **{"aeg-event-type": "SubscriptionValidation"}
    )
    assert response.status_code == 200
    assert response.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
    assert Receipt.objects.count() == 0


def test_eventgrid_cloudevents_abuse_protection_handshake(client, grid):
    target = url("eventgrid", grid)
    response = client.options(target, headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert response.status_code == 200
    assert response["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert (
        client.options(url("eventgrid", grid, token=None), headers={"WebHook-Request-Origin": "x"}).status_code == 401
    )
    assert client.options(target).status_code == 400


def test_eventgrid_schema_batch_confirms_helios_events_and_keeps_unexpected_ones(client, admin_client, grid):
    event = publish_event(event_type="OrderPlaced", source="com.test", subject="orders/1", data={}, providers=[grid])
    batch = [
        {
            "id": str(event.id),
            "eventType": "OrderPlaced",
            "subject": "orders/1",
            "eventTime": "2026-11-27T10:00:00Z",
            "data": {},
            "dataVersion": "1.0",
            "topic": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.EventGrid/topics/orders",
        },
        {"id": "not-from-helios", "eventType": "Other", "subject": "s", "data": {}, "dataVersion": "1"},
    ]
    response = post_json(client, url("eventgrid", grid), batch, **{"aeg-subscription-name": "HELIOS-ROUNDTRIP"})
    assert response.status_code == 200
    delivery = Delivery.objects.get(event=event)
    assert delivery.confirmed_at is not None
    assert delivery.confirmed_via == "Azure Event Grid receiver (HELIOS-ROUNDTRIP)"
    helios, other = Receipt.objects.order_by("id")
    assert (helios.event, helios.delivery, helios.subject) == (event, delivery, "orders/1")
    assert (other.key, other.event, other.delivery) == ("not-from-helios", None, None)
    [row] = admin_client.get(reverse("admin:events_event_status", args=[event.pk])).json()["deliveries"]
    assert row["confirmed"].startswith("confirmed ")
    assert row["confirmed"].endswith(" UTC via Azure Event Grid receiver (HELIOS-ROUNDTRIP)")
    page = admin_client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert "via Azure Event Grid receiver (HELIOS-ROUNDTRIP)" in page
    history = reverse("admin:events_delivery_changelist")
    assert admin_client.get(history, {"confirmed": "yes"}).context["cl"].result_count == 1
    assert admin_client.get(history, {"confirmed": "no"}).context["cl"].result_count == 0


def test_eventgrid_structured_and_binary_cloudevents_from_the_cloudevents_sdk(client, grid):
    from cloudevents.v1.conversion import to_binary, to_structured
    from cloudevents.v1.http import CloudEvent

    event = publish_event(event_type="OrderPlaced", source="com.test", data={"a": 1}, providers=[grid])
    structured = CloudEvent({"id": str(event.id), "type": "OrderPlaced", "source": "com.test"}, {"a": 1})
    headers, body = to_structured(structured)
    response = client.post(url("eventgrid", grid), data=body, content_type=headers["content-type"])
    assert response.status_code == 200
    binary = CloudEvent({"id": "binary-1", "type": "T", "source": "s", "subject": "orders/9"}, {"b": 2})
    headers, body = to_binary(binary)
    content_type = headers.pop("content-type", "application/json")
    response = client.post(url("eventgrid", grid), data=body, content_type=content_type, headers=headers)
    assert response.status_code == 200
    assert Delivery.objects.get(event=event).confirmed_at is not None
    assert Receipt.objects.get(key="binary-1").subject == "orders/9"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b"{not json",
            "The body is not acceptable JSON: Invalid JSON at line 1, column 2: "
            "Expecting property name enclosed in double quotes.",
        ),
        (b"[]", "The body is an empty array: no events."),
        (b"[1]", "Event 1 is not a JSON object."),
        (b'[{"eventType": "T"}]', "Event 1 has no id."),
        (b'[{"id": "x"}]', "Event 1 is neither an Event Grid event nor a CloudEvent."),
        (
            json.dumps([{**VALIDATION_EVENT[0], "data": {}}]).encode(),
            "The subscription validation event has no validationCode.",
        ),
    ],
)
def test_eventgrid_malformed_bodies_get_400_with_the_reason(client, grid, body, reason):
    response = post_json(client, url("eventgrid", grid), body)
    assert (response.status_code, response.json()) == (400, {"error": reason})
    assert Receipt.objects.count() == 0


# --- Pub/Sub push -------------------------------------------------------------------------


def test_pubsub_documented_push_sample_is_acknowledged_and_kept_as_unexpected(client, pubsub):
    response = post_json(client, url("pubsub", pubsub), PUSH_SAMPLE)
    assert response.status_code == 204
    receipt = Receipt.objects.get()
    assert (receipt.key, receipt.message_id, receipt.event) == ("message:2070443601311540", "2070443601311540", None)
    assert receipt.subscription == "projects/myproject/subscriptions/mysubscription"
    assert "Hello Cloud Pub/Sub! Here is my message!" in receipt.body


def test_pubsub_push_of_a_helios_event_confirms_it_and_a_redelivery_is_a_duplicate(client, pubsub):
    event = publish_event(event_type="T", source="s", subject="orders/2", data={"x": 1}, providers=[pubsub])
    envelope = {
        **PUSH_SAMPLE,
        "message": {
            **PUSH_SAMPLE["message"],
            "attributes": {"ce-id": str(event.id), "ce-subject": "orders/2"},
            "data": base64.b64encode(b'{"x": 1}').decode(),
        },
    }
    assert post_json(client, url("pubsub", pubsub), envelope).status_code == 204
    assert post_json(client, url("pubsub", pubsub), envelope).status_code == 204
    receipt = Receipt.objects.get()
    assert (receipt.arrivals, receipt.subject, receipt.delivery.event) == (2, "orders/2", event)
    assert "Pub/Sub receiver (projects/myproject/subscriptions/mysubscription)" in receipt.delivery.confirmed_via


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        ({"subscription": "s"}, "The body is not a Pub/Sub push envelope (no message object)."),
        ({"message": {"data": "aGk="}}, "The message has no messageId."),
        ({"message": {"messageId": "1", "data": "***"}}, "The message data is not valid base64."),
        ({"message": {"messageId": "1", "attributes": {"a": 1}}}, "The message attributes are not a map of strings."),
    ],
)
def test_pubsub_malformed_envelopes_get_400(client, pubsub, envelope, reason):
    response = post_json(client, url("pubsub", pubsub), envelope)
    assert (response.status_code, response.json()["error"]) == (400, reason)


def test_pubsub_oidc_token_is_verified_against_the_issuers_certificates(
    client, make_provider, make_receiver, oidc_issuer
):
    config = make_provider("pubsub-oidc", "gcp_pubsub")
    audience = "https://helios.example.com/receive/pubsub/"
    make_receiver(
        config,
        auth="oidc",
        secret_env="",
        oidc_audience=audience,
        oidc_issuers="https://accounts.google.com",
        oidc_email="push@helios-test.iam.gserviceaccount.com",
        oidc_certs_url=oidc_issuer.certs_url,
    )
    target = url("pubsub", config, token=None)

    def push(token: str | None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return post_json(client, target, PUSH_SAMPLE, **headers)

    assert push(oidc_issuer.token(audience)).status_code == 204
    assert push(None).status_code == 401
    assert push(oidc_issuer.token("https://elsewhere.example.com/")).status_code == 403
    assert push(oidc_issuer.token(audience, iss="https://evil.example.com")).status_code == 403
    assert push(oidc_issuer.token(audience, email="someone@else.iam.gserviceaccount.com")).status_code == 403
    assert push(oidc_issuer.token(audience, exp=1_000_000_000, iat=999_990_000)).status_code == 403
    forged = oidc_issuer.token(audience)[:-8] + "AAAAAAAA"
    assert push(forged).status_code == 403
    assert Receipt.objects.get().arrivals == 1  # only the valid push was stored


# --- EventBridge API destination ----------------------------------------------------------


def test_eventbridge_api_destination_with_api_key_confirms_and_removes_secrets(client, bridge):
    event = publish_event(event_type="OrderPlaced", source="com.test", data={}, providers=[bridge])
    body = eventbridge_event(str(event.id), note=f"key is {RECEIVER_API_KEY}", password="hunter2")
    target = url("eventbridge", bridge, token=None)
    assert post_json(client, target, body, **{"x-api-key": RECEIVER_API_KEY}).status_code == 200
    receipt = Receipt.objects.get()
    assert receipt.delivery.event == event and receipt.message_id == body["id"]
    assert RECEIVER_API_KEY not in receipt.body and "hunter2" not in receipt.body
    assert receipt.body.count("[redacted]") == 2


def test_eventbridge_wrong_or_missing_credentials_store_nothing(client, bridge):
    target = url("eventbridge", bridge, token=None)
    body = eventbridge_event(str(uuid.uuid4()))
    assert post_json(client, target, body).status_code == 401
    response = post_json(client, target, body, **{"x-api-key": "wrong"})
    assert (response.status_code, response.json()) == (403, {"error": "Wrong x-api-key."})
    assert Receipt.objects.count() == 0


def test_eventbridge_basic_auth(client, make_provider, make_receiver):
    config = make_provider("bridge-basic", "aws_eventbridge")
    make_receiver(config, auth="basic", basic_username="helios", secret_env="TEST_RECEIVER_API_KEY")
    target = url("eventbridge", config, token=None)

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    body = eventbridge_event(str(uuid.uuid4()))
    assert post_json(client, target, body, Authorization=basic("helios", RECEIVER_API_KEY)).status_code == 200
    assert post_json(client, target, body, Authorization=basic("helios", "nope")).status_code == 403
    assert post_json(client, target, body, Authorization="Basic !!!").status_code == 401
    assert post_json(client, target, {"detail": {}}, Authorization=basic("helios", RECEIVER_API_KEY)).json() == {
        "error": "The body is not an EventBridge event (needs id and detail)."
    }


# --- Every receiver -----------------------------------------------------------------------


def test_wrong_token_unknown_config_method_size_and_missing_secret(client, grid, monkeypatch):
    assert post_json(client, url("eventgrid", grid, token="wrong"), []).status_code == 403
    assert post_json(client, url("eventgrid", grid, token=None), []).status_code == 401
    assert post_json(client, reverse("receive_pubsub", args=[grid.pk]), {}).status_code == 404  # not a Pub/Sub config
    assert client.get(url("eventgrid", grid)).status_code == 405
    grid.receiver.max_body_bytes = 2048
    grid.receiver.save()
    response = post_json(client, url("eventgrid", grid), [{"id": "x", "eventType": "T", "data": "x" * 4000}])
    assert response.status_code == 413
    monkeypatch.delenv("TEST_RECEIVER_TOKEN")
    response = post_json(client, url("eventgrid", grid), VALIDATION_EVENT)
    assert response.status_code == 503
    assert response.json() == {"error": "The receiver's secret (TEST_RECEIVER_TOKEN) is not configured."}
    assert response["Retry-After"] == "30"
    assert Receipt.objects.count() == 0


def test_a_disabled_receiver_is_not_found(client, grid):
    grid.receiver.enabled = False
    grid.receiver.save()
    assert post_json(client, url("eventgrid", grid), VALIDATION_EVENT).status_code == 404


# --- Poison: a body that can never be stored is refused for good (400), not redelivered (503) ----


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('[{"id": "a\\u0000b", "eventType": "T"}]', "The id of event 1 contains the NUL character (\\u0000)."),
        ('[{"id": "\\ud800", "eventType": "T"}]', "The id of event 1 contains a lone surrogate (\\ud800)"),
        ('[{"id": "' + "x" * 300 + '", "eventType": "T"}]', "The id of event 1 is 300 characters long"),
        ("[" * 100_000 + "]" * 100_000, "The body is not acceptable JSON: nested more than 64 levels deep"),
        ('[{"id": "x", "eventType": "T", "data": NaN}]', "NaN is not a JSON number"),
    ],
)
def test_eventgrid_poison_bodies_get_400_and_nothing_is_stored(client, grid, body, reason):
    response = post_json(client, url("eventgrid", grid), body)
    assert response.status_code == 400 and "Retry-After" not in response
    assert reason in response.json()["error"]
    assert Receipt.objects.count() == 0


def test_pubsub_and_eventbridge_poison_ids_get_400(client, pubsub, bridge):
    envelope = {**PUSH_SAMPLE, "message": {**PUSH_SAMPLE["message"], "attributes": {"ce-id": "\x00"}}}
    response = post_json(client, url("pubsub", pubsub), envelope)
    assert response.status_code == 400
    assert response.json()["error"] == "The ce-id attribute contains the NUL character (\\u0000)."
    event = eventbridge_event("\ud800")
    body = json.dumps(event).encode()  # the lone surrogate travels escaped, as JSON allows
    response = post_json(
        client, reverse("receive_eventbridge", args=[bridge.pk]), body, **{"x-api-key": RECEIVER_API_KEY}
    )
    assert response.status_code == 400
    assert "detail.metadata.event_id contains a lone surrogate" in response.json()["error"]
    assert Receipt.objects.count() == 0


def test_text_that_cannot_be_stored_outside_the_ids_is_kept_escaped(client, grid):
    body = '[{"id": "e-1", "eventType": "T", "subject": "a\\u0000b", "data": {"note": "\\ud83d", "z": "\\u0000"}}]'
    assert post_json(client, url("eventgrid", grid), body).status_code == 200
    receipt = Receipt.objects.get()
    assert receipt.subject == "a\ufffdb"
    assert json.loads(receipt.body)["data"] == {"note": "\ud83d", "z": "\x00"}  # escaped in the stored text


@pytest.mark.parametrize("charset", ["utf-16", "idna", "latin-1", "nonsense"])
def test_a_content_type_charset_does_not_mangle_the_token_or_the_body(client, grid, charset):
    body = json.dumps([{"id": "e-2", "eventType": "T", "data": {"city": "Zürich"}}]).encode()
    # generic() sends the bytes as they are (post() would re-encode them in the claimed charset).
    response = client.generic("POST", url("eventgrid", grid), body, content_type=f"application/json; charset={charset}")
    assert response.status_code == 200
    assert json.loads(Receipt.objects.get().body)["data"] == {"city": "Zürich"}


def test_only_what_can_recover_gets_503(client, grid, monkeypatch):
    from django.db import OperationalError

    def database_down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("events.receivers.record_arrivals", database_down)
    response = post_json(client, url("eventgrid", grid), [{"id": "e-3", "eventType": "T"}])
    assert response.status_code == 503 and response["Retry-After"] == "30"


def test_a_charset_that_is_no_text_encoding_reaches_the_receiver_through_the_wsgi_application(grid):
    """Django's request constructor raises for `charset=rot13` before any view runs: the WSGI
    application drops that parameter, so the receiver answers and stores the event."""
    from wsgiref.util import setup_testing_defaults

    from django.core.signals import request_started
    from django.db import close_old_connections

    from helios_site.wsgi import application

    body = json.dumps([{"id": "e-4", "eventType": "T"}]).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": reverse("receive_eventgrid", args=[grid.pk]),
        "QUERY_STRING": f"token={RECEIVER_TOKEN}",
        "CONTENT_TYPE": "application/json; charset=rot13",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver",
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    statuses = []
    request_started.disconnect(close_old_connections)  # as Django's test client does: keep the test's connection
    try:
        b"".join(application(environ, lambda status, headers: statuses.append(status)))
    finally:
        request_started.connect(close_old_connections)
    assert statuses == ["200 OK"]
    assert Receipt.objects.get().key == "e-4"


def test_eventgrid_authenticates_by_a_header_its_delivery_property_sends(client, make_provider, make_receiver):
    """Event Grid can send the secret as a header (a secret static delivery property): no token in
    the URL, so none in any proxy's access log."""
    config = make_provider("grid-header", "azure_eventgrid")
    make_receiver(config, auth="api_key", secret_env="TEST_RECEIVER_API_KEY", api_key_header="x-api-key")
    target = reverse("receive_eventgrid", args=[config.pk])
    body = [{"id": "e-h", "eventType": "T", "data": {}}]
    assert post_json(client, target, body).status_code == 401
    assert post_json(client, target, body, **{"x-api-key": "wrong"}).status_code == 403
    assert post_json(client, target, body, **{"x-api-key": RECEIVER_API_KEY}).status_code == 200
    assert Receipt.objects.get().key == "e-h"
