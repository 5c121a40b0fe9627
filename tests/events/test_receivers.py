"""Round-trip receivers: each cloud's documented payloads and SDK-produced ones, authentication,
bad bodies, duplicates and confirmation of the matching delivery."""

import base64
import json
import threading
import uuid

import pytest
from django.urls import reverse

from events.models import Delivery, Receipt
from tests.conftest import RECEIVER_API_KEY
from tests.events.receiving import PUSH_SAMPLE, VALIDATION_EVENT, eventbridge_event, post_json, url
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db

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
def test_eventgrid_malformed_bodies_get_400_with_the_reason_and_are_kept_as_unexpected(client, grid, body, reason):
    response = post_json(client, url("eventgrid", grid), body)
    assert response.status_code == 400  # Event Grid does not redeliver on 400
    assert response.json() == {"error": f"{reason} It is refused for good (kept as an unexpected arrival)."}
    assert_kept_as_poison(reason)


def assert_kept_as_poison(reason: str) -> None:
    receipt = Receipt.objects.get()
    assert receipt.event is None and receipt.key.startswith("message:poison:")
    assert json.loads(receipt.body)["unparsable"] == reason


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
def test_pubsub_malformed_envelopes_are_acknowledged_and_kept_as_unexpected(client, pubsub, envelope, reason):
    """Pub/Sub push redelivers on any status but 102, 200, 201, 202 and 204, a 400 included."""
    response = post_json(client, url("pubsub", pubsub), envelope)
    assert response.status_code == 204
    assert_kept_as_poison(reason)
    assert post_json(client, url("pubsub", pubsub), envelope).status_code == 204
    assert Receipt.objects.get().arrivals == 2  # the same poison again is one more arrival of it


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
    poison = post_json(client, target, {"detail": {}}, Authorization=basic("helios", RECEIVER_API_KEY))
    assert poison.status_code == 400  # API destinations retry only 401, 407, 409, 429 and 5xx
    assert poison.json()["error"].startswith("The body is not an EventBridge event (needs id and detail).")


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
    assert_kept_as_poison("The body is larger than 2,048 bytes (4,043 bytes).")
    Receipt.objects.all().delete()
    assert post_json(client, url("eventgrid", grid, token=None), "x" * 4000).status_code == 401  # size: after auth
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


def test_an_issuer_that_never_finishes_answering_gets_a_503_in_words_within_the_deadline(
    client, make_provider, make_receiver, monkeypatch
):
    """The certificate fetch has a total deadline (a trickling endpoint trips no socket timeout);
    the failure is remembered briefly, so the next request does not wait at all."""
    from providers.inbound import auth
    from tests.standins import TricklingEndpoint

    issuer = TricklingEndpoint()
    monkeypatch.setattr(auth, "CERTS_DEADLINE_SECONDS", 0.5)
    config = make_provider("pubsub-slow-oidc", "gcp_pubsub")
    make_receiver(
        config,
        auth="oidc",
        secret_env="",
        oidc_audience="https://helios.example.com/receive/pubsub/",
        oidc_issuers="https://accounts.google.com",
        oidc_certs_url=f"http://127.0.0.1:{issuer.port}/oauth2/v1/certs",
    )
    try:
        target = url("pubsub", config, token=None)
        first = post_json(client, target, PUSH_SAMPLE, Authorization="Bearer a.b.c")
        assert first.status_code == 503
        assert first.json()["error"] == "The OIDC signing certificates cannot be fetched right now; try again later."
        helpers = [t for t in threading.enumerate() if t.name == "helios-oidc-certs"]
        second = post_json(client, target, PUSH_SAMPLE, Authorization="Bearer a.b.c")
        assert second.status_code == 503
        assert [t for t in threading.enumerate() if t.name == "helios-oidc-certs"] == helpers  # no new fetch
    finally:
        issuer.stop()
