"""POST /api/v1/events and GET /api/v1/events/<id>: HELIOS's envelope and CloudEvents in all three
modes of the HTTP binding (made by the cloudevents SDK's own conversion), keys, scopes, production
gating, idempotency, and every refusal with nothing created."""

import json
import uuid

import pytest
from cloudevents.v1.conversion import to_binary, to_dict, to_structured
from cloudevents.v1.http import CloudEvent

import gateway.api
from core.models import AuditAction, AuditEntry
from events.models import Delivery, Event
from gateway.expansion import expand_accepted
from gateway.keys import revoke_key

pytestmark = pytest.mark.django_db
ORDER = {"type": "OrderPlaced", "source": "com.example.orders", "subject": "orders/o-1", "data": {"order_id": "o-1"}}


def nothing_created() -> bool:
    return Event.objects.count() == 0 and Delivery.objects.count() == 0


@pytest.fixture
def configs(demo_providers):
    return {c.name: c for c in demo_providers}


@pytest.fixture
def key(make_key, configs):
    return make_key(providers=[configs["aws-demo"], configs["gcp-demo"]])


def test_an_envelope_is_accepted_then_expanded_into_its_deliveries_and_can_be_read_back(client, api_post, key):
    """The accept log: a 202 promises valid, authorised, durable, will be delivered; the worker
    expands the request into the event and its deliveries."""
    response = api_post(key.secret, {**ORDER, "providers": ["aws-demo", "gcp-demo"]})
    assert response.status_code == 202, response.content
    [answer] = response.json()["events"]
    assert (answer["reused"], answer["status"], answer["type"], answer["deliveries"]) == (
        False,
        "accepted",
        "OrderPlaced",
        [],
    )
    assert answer["url"].endswith(f"/api/v1/events/{answer['id']}")
    auth = {"Authorization": f"Bearer {key.secret}"}
    waiting = client.get(f"/api/v1/events/{answer['id']}", headers=auth).json()
    assert (waiting["status"], waiting["subject"], waiting["deliveries"]) == ("accepted", "orders/o-1", [])
    assert Event.objects.count() == 0

    assert expand_accepted() == 1
    event = Event.objects.get()
    assert str(event.id) == answer["id"]
    read = client.get(f"/api/v1/events/{event.id}", headers=auth).json()
    assert (read["status"], read["subject"]) == ("published", "orders/o-1")
    assert sorted((d["provider"], d["status"]) for d in read["deliveries"]) == [
        ("aws-demo", "pending"),
        ("gcp-demo", "pending"),
    ]
    assert expand_accepted() == 0  # expanded once: nothing made twice
    assert Delivery.objects.count() == 2
    key.key.refresh_from_db()
    assert key.key.last_used_at is not None and key.key.last_used_from == "127.0.0.1"
    publish = AuditEntry.objects.get(action=AuditAction.PUBLISH)
    assert publish.remote_addr == "127.0.0.1"  # the service's address, not "cli"


def test_a_batch_of_envelopes_may_name_different_providers(api_post, key):
    batch = [{**ORDER, "providers": ["aws-demo"]}, {**ORDER, "subject": "orders/o-2", "providers": ["gcp-demo"]}]
    response = api_post(key.secret, batch)
    assert response.status_code == 202, response.content
    expand_accepted()
    assert sorted(Delivery.objects.values_list("event__subject", "provider__name")) == [
        ("orders/o-1", "aws-demo"),
        ("orders/o-2", "gcp-demo"),
    ]


def test_a_structured_cloudevent_keeps_its_uuid_as_the_event_id(api_post, key):
    ce_id = str(uuid.uuid4())
    event = CloudEvent(
        {"id": ce_id, "type": "OrderPlaced", "source": "/orders", "subject": "o-3", "heliosproviders": "aws-demo"},
        {"order_id": "o-3"},
    )
    headers, body = to_structured(event)
    response = api_post(key.secret, body, headers["content-type"])
    assert response.status_code == 202, response.content
    expand_accepted()
    stored = Event.objects.get()
    assert (str(stored.id), stored.cloudevent_id, stored.subject, stored.data) == (
        ce_id,
        ce_id,
        "o-3",
        {"order_id": "o-3"},
    )


def test_a_binary_cloudevent_with_another_id_is_kept_and_a_repeat_is_the_same_event(api_post, key):
    event = CloudEvent(
        {"id": "order-4-created", "type": "OrderPlaced", "source": "/orders", "heliosproviders": "gcp-demo"},
        {"order_id": "o-4"},
    )
    headers, body = to_binary(event)
    content_type = headers.pop("content-type", "application/json")
    first = api_post(key.secret, body, content_type, **headers)
    again = api_post(key.secret, body, content_type, **headers)  # found while it waits in the accept log
    assert first.status_code == again.status_code == 202, first.content
    assert again.json()["events"][0] == {**first.json()["events"][0], "reused": True}
    expand_accepted()
    stored = Event.objects.get()  # one event: the repeat is found, not made twice
    assert stored.cloudevent_id == "order-4-created" and stored.data == {"order_id": "o-4"}
    third = api_post(key.secret, body, content_type, **headers)  # found once expanded
    assert third.json()["events"][0]["status"] == "published" and third.json()["events"][0]["reused"] is True
    assert Delivery.objects.count() == 1


def test_a_cloudevents_batch_is_all_or_nothing(api_post, key):
    good = CloudEvent({"type": "OrderPlaced", "source": "/orders", "heliosproviders": "aws-demo"}, {"n": 1})
    bad = CloudEvent({"type": "OrderPlaced", "source": "/orders", "heliosproviders": "aws-demo"}, ["not", "an object"])
    body = json.dumps([to_dict(good), to_dict(bad)])
    response = api_post(key.secret, body, "application/cloudevents-batch+json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["event 2: The event data must be a JSON object ({…}), not an array."]
    assert nothing_created()
    response = api_post(key.secret, json.dumps([to_dict(good)]), "application/cloudevents-batch+json")
    assert response.status_code == 202 and expand_accepted() == 1 and Event.objects.count() == 1


@pytest.mark.parametrize(
    ("secret", "status", "reason"),
    [
        (None, 401, "Send the API key as `Authorization: Bearer <key>`."),
        ("hk_00000000_nope", 401, "Unknown API key."),
        ("not-a-key", 401, "Unknown API key."),
    ],
)
def test_no_key_or_an_unknown_one_is_401(api_post, key, secret, status, reason):
    response = api_post(secret, {**ORDER, "providers": ["aws-demo"]})
    assert (response.status_code, response.json()["errors"]) == (status, [reason])
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert nothing_created()


def test_a_revoked_key_is_401_at_once(api_post, key):
    revoke_key(key.key)
    response = api_post(key.secret, {**ORDER, "providers": ["aws-demo"]})
    assert response.status_code == 401 and "revoked" in response.json()["errors"][0]
    assert AuditEntry.objects.filter(action=AuditAction.API_KEY_REVOKE).count() == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({**ORDER, "providers": ["azure-demo"]}, 403, "The API key order-service may not publish to: azure-demo."),
        ({**ORDER, "providers": ["nope"]}, 403, "The API key order-service may not publish to: nope."),
        (ORDER, 422, "No route matches the event and it names no provider config"),
        ({**ORDER, "data": [1], "providers": ["aws-demo"]}, 400, "the event: The event data must be a JSON object"),
        ({**ORDER, "colour": "red", "providers": ["aws-demo"]}, 400, "the event: unknown member(s) colour"),
        ('{"type": "T", "source": "s", "data": {"x": NaN}}', 400, "NaN is not a JSON number"),
        ('{"type": "T", "source": "s", "data": {}, "data": {}}', 400, "the key 'data' appears more than once"),
        ("[]", 400, "The array holds no events."),
    ],
)
def test_every_refusal_says_why_and_creates_nothing(api_post, key, body, status, reason):
    response = api_post(key.secret, body)
    assert response.status_code == status, response.content
    assert reason.lower() in " ".join(response.json()["errors"]).lower()
    assert nothing_created()


def test_too_large_and_unsupported_content_types(api_post, key, settings):
    settings.HELIOS_API_MAX_BODY_BYTES = 2048
    response = api_post(key.secret, {**ORDER, "data": {"pad": "x" * 4000}, "providers": ["aws-demo"]})
    assert response.status_code == 413
    settings.HELIOS_API_MAX_BATCH_EVENTS = 2
    settings.HELIOS_API_MAX_BODY_BYTES = 1024 * 1024
    response = api_post(key.secret, [{**ORDER, "providers": ["aws-demo"]}] * 3)
    assert (response.status_code, response.json()["errors"]) == (413, ["At most 2 events a request."])
    response = api_post(key.secret, "<xml/>", "application/xml")
    assert response.status_code == 400 and "Unsupported Content-Type 'application/xml'" in response.json()["errors"][0]
    assert nothing_created()


def test_the_same_idempotency_key_and_body_get_the_first_answer_and_another_body_a_409(api_post, key):
    body = {**ORDER, "providers": ["aws-demo"]}
    first = api_post(key.secret, body, **{"Idempotency-Key": "req-1"})
    again = api_post(key.secret, body, **{"Idempotency-Key": "req-1"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and expand_accepted() == 1 and Event.objects.count() == 1
    other = api_post(key.secret, {**body, "subject": "orders/o-9"}, **{"Idempotency-Key": "req-1"})
    assert other.status_code == 409 and expand_accepted() == 0 and Event.objects.count() == 1


def test_an_idempotency_key_is_kept_for_its_hours_then_new_again_and_removed_daily(api_post, key, settings):
    from datetime import timedelta

    from django_q.models import Schedule

    from gateway.models import IdempotentRequest
    from gateway.tasks import forget_idempotency_keys

    settings.HELIOS_API_IDEMPOTENCY_HOURS = 24
    body = {**ORDER, "providers": ["aws-demo"]}
    assert api_post(key.secret, body, **{"Idempotency-Key": "req-1"}).status_code == 202
    assert api_post(key.secret, body, **{"Idempotency-Key": "old"}).status_code == 202
    IdempotentRequest.objects.filter(key="old").update(
        created_at=IdempotentRequest.objects.get(key="old").created_at - timedelta(hours=25)
    )

    again = api_post(key.secret, body, **{"Idempotency-Key": "old"})
    assert again.status_code == 202 and again.json()["events"][0]["reused"] is False
    expand_accepted()
    assert Event.objects.count() == 3  # an expired key is a new request: a new event
    IdempotentRequest.objects.filter(key="req-1").update(
        created_at=IdempotentRequest.objects.get(key="req-1").created_at - timedelta(hours=25)
    )
    assert forget_idempotency_keys() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["old"]
    assert Schedule.objects.get(name="helios-forget-idempotency-keys").func == "gateway.tasks.forget_idempotency_keys"


def test_production_needs_the_keys_grant_and_its_use_is_audited(api_post, make_key, production_providers):
    grid = production_providers["azure_eventgrid"]
    plain = make_key("plain", providers=[grid])
    granted = make_key("granted", providers=[grid], allow_production=True)
    body = {**ORDER, "providers": [grid.name]}
    refused = api_post(plain.secret, body)
    assert refused.status_code == 403 and "may not send to production" in refused.json()["errors"][0]
    assert nothing_created()
    assert api_post(granted.secret, body).status_code == 202
    [use] = AuditEntry.objects.filter(action=AuditAction.API_PRODUCTION)
    assert use.target == "API key granted" and use.summary == "1 event sent to production: azure-prod"


def test_the_openapi_schema_and_its_docs_page_are_served_from_helios(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.") and "/api/v1/events" in schema["paths"]
    assert set(schema["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]) == {
        "application/json",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
    }
    docs = client.get("/api/v1/docs").content.decode()
    assert "/static/ninja/" in docs and "cdn.jsdelivr" not in docs  # works offline


def test_a_keys_rate_limit_answers_429_with_retry_after_and_refusals_spend_nothing(api_post, make_key, configs):
    from datetime import timedelta

    from django.utils import timezone

    from gateway.models import ApiKey

    limited = make_key("limited", providers=[configs["aws-demo"]], rate_limit_per_minute=3)
    two = [{**ORDER, "providers": ["aws-demo"]}] * 2
    assert api_post(limited.secret, {**ORDER, "data": [1], "providers": ["aws-demo"]}).status_code == 400
    assert api_post(limited.secret, two).status_code == 202  # the 400 spent nothing: 2 of 3
    refused = api_post(limited.secret, two)
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 61
    assert "may send 3 events a minute; 2 were sent this minute" in refused.json()["errors"][0]
    assert expand_accepted() == 1 and Event.objects.count() == 2
    ApiKey.objects.filter(pk=limited.key.pk).update(window_started_at=timezone.now() - timedelta(seconds=61))
    assert api_post(limited.secret, two).status_code == 202  # a new minute


def test_an_event_naming_no_provider_goes_where_the_routes_say(api_post, make_key, configs):
    from events.models import Route

    orders = Route.objects.create(name="orders", position=1, filter={"prefix": {"type": "Order"}})
    orders.providers.set([configs["aws-demo"]])
    german = Route.objects.create(name="german", position=2, filter={"exact": {"data.country": "DE"}})
    german.providers.set([configs["aws-demo"], configs["gcp-demo"]])
    off = Route.objects.create(name="off", enabled=False, filter={})
    off.providers.set([configs["azure-demo"]])
    key = make_key("router", providers=[configs["aws-demo"], configs["gcp-demo"]])
    response = api_post(key.secret, {**ORDER, "data": {"country": "DE"}})
    assert response.status_code == 202, response.content
    expand_accepted()
    routed = dict(Delivery.objects.values_list("provider__name", "route__name"))
    assert routed == {"aws-demo": "orders", "gcp-demo": "german"}  # the first route that chose each
    assert api_post(key.secret, {**ORDER, "type": "Refund", "data": {"country": "FR"}}).status_code == 422
    wide = Route.objects.create(name="everything", position=3, filter={})
    wide.providers.set([configs["azure-demo"]])  # outside the key's scope
    refused = api_post(key.secret, {**ORDER, "type": "Refund", "data": {}})
    assert refused.status_code == 403 and "may not publish to: azure-demo" in refused.json()["errors"][0]


def test_binary_cloudevents_with_the_same_body_but_other_ids_are_other_requests(api_post, key):
    body = json.dumps({"order_id": "o-5"})
    first = {"ce-specversion": "1.0", "ce-id": "a-1", "ce-source": "/o", "ce-type": "T"}
    first["ce-heliosproviders"] = "aws-demo"
    assert api_post(key.secret, body, **first, **{"Idempotency-Key": "k"}).status_code == 202
    again = api_post(key.secret, body, **{**first, "ce-id": "a-2"}, **{"Idempotency-Key": "k"})
    assert again.status_code == 409  # another request: not the first answer
    assert expand_accepted() == 1 and Event.objects.count() == 1


def test_an_event_expanded_while_it_is_being_read_is_found(client, api_post, key, monkeypatch):
    """Each query of the read sees what was committed when it ran: a worker that expands the
    request after the event was looked for and before the accept log is read (here: just before)
    must not make the event look unknown (a 404 seen in CI on PostgreSQL)."""
    [answer] = api_post(key.secret, {**ORDER, "providers": ["aws-demo"]}).json()["events"]
    waiting_events = gateway.api.waiting_events

    def expanded_meanwhile(request_ids):
        assert expand_accepted() == 1  # the worker commits between the reads
        return waiting_events(request_ids)

    monkeypatch.setattr(gateway.api, "waiting_events", expanded_meanwhile)
    read = client.get(f"/api/v1/events/{answer['id']}", headers={"Authorization": f"Bearer {key.secret}"})
    assert read.status_code == 200, read.content
    assert read.json()["status"] == "published"


def test_answer_urls_follow_the_script_prefix_they_are_made_under():
    """The answer's URL templates are reversed once per process for each script prefix (HELIOS
    served under a path): one prefix's template never serves another."""
    from django.urls import set_script_prefix

    from gateway.answers import SAMPLE_EVENT_ID, _url_maker

    event_id = uuid.uuid4()
    try:
        set_script_prefix("/helios/")
        under = _url_maker("https://h", "api-v1:event", SAMPLE_EVENT_ID)(event_id)
        set_script_prefix("/")
        at_root = _url_maker("https://h", "api-v1:event", SAMPLE_EVENT_ID)(event_id)
    finally:
        set_script_prefix("/")
    assert (under, at_root) == (f"https://h/helios/api/v1/events/{event_id}", f"https://h/api/v1/events/{event_id}")
