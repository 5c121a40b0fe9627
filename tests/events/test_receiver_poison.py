"""Receivers keep what can never be stored as an unexpected arrival and answer so that the cloud
stops (400 for Event Grid and EventBridge, 204 for Pub/Sub push), and ask for redelivery (503)
only for what can recover."""

import io
import json

import pytest
from django.urls import reverse

from events.models import Receipt
from tests.conftest import RECEIVER_API_KEY, RECEIVER_TOKEN
from tests.events.receiving import PUSH_SAMPLE, eventbridge_event, post_json, url

pytestmark = pytest.mark.django_db


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
def test_eventgrid_poison_bodies_get_400_and_are_kept_as_unexpected(client, grid, body, reason):
    response = post_json(client, url("eventgrid", grid), body)
    assert response.status_code == 400 and "Retry-After" not in response
    assert reason in response.json()["error"]
    receipt = Receipt.objects.get()
    assert receipt.event is None and reason in json.loads(receipt.body)["unparsable"]


def test_pubsub_poison_is_acknowledged_and_eventbridge_poison_gets_400_both_kept(client, pubsub, bridge):
    envelope = {**PUSH_SAMPLE, "message": {**PUSH_SAMPLE["message"], "attributes": {"ce-id": "\x00"}}}
    response = post_json(client, url("pubsub", pubsub), envelope)
    assert response.status_code == 204
    kept = Receipt.objects.get(provider=pubsub)
    assert json.loads(kept.body)["unparsable"] == "The ce-id attribute contains the NUL character (\\u0000)."
    event = eventbridge_event("\ud800")
    body = json.dumps(event).encode()  # the lone surrogate travels escaped, as JSON allows
    response = post_json(
        client, reverse("receive_eventbridge", args=[bridge.pk]), body, **{"x-api-key": RECEIVER_API_KEY}
    )
    assert response.status_code == 400
    assert "detail.metadata.event_id contains a lone surrogate" in response.json()["error"]
    assert Receipt.objects.filter(provider=bridge, event=None).count() == 1


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
