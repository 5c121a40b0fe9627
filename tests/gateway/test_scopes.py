"""One key's events stay its own: CloudEvent deduplication per key, deliveries shown only within
the key's scope, and the same answer for a config name that does not exist as for one outside it."""

import json
import uuid

import pytest

from events.models import Delivery, Event
from gateway.expansion import expand_accepted

pytestmark = pytest.mark.django_db
SHARED = "7b5e4c1e-3a58-4a8e-9d0c-1f0e6c1d2b3a"


@pytest.fixture
def two_keys(make_key, demo_providers, make_provider):
    aws = next(c for c in demo_providers if c.name == "aws-demo")
    aws_b = make_provider("aws-demo-b", "aws_eventbridge")
    return make_key("service-a", providers=[aws]), make_key("service-b", providers=[aws_b])


def cloudevent(ce_id: str, source: str, provider: str) -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": ce_id,
            "source": source,
            "type": "OrderPlaced",
            "data": {},
            "heliosproviders": provider,
        }
    )


def post_ce(api_post, key, body):
    return api_post(key.secret, body, content_type="application/cloudevents+json")


def get(client, key, event_id):
    return client.get(f"/api/v1/events/{event_id}", headers={"Authorization": f"Bearer {key.secret}"})


def test_another_keys_cloudevent_id_is_a_new_event_of_its_own_and_discloses_nothing(client, api_post, two_keys):
    """The reproduction: A posts (source /shared, id U); B posts the same source and id."""
    a, b = two_keys
    first = post_ce(api_post, a, cloudevent(SHARED, "/shared", "aws-demo"))
    assert first.status_code == 202 and first.json()["events"][0]["id"] == SHARED
    second = post_ce(api_post, b, cloudevent(SHARED, "/shared", "aws-demo-b"))
    assert second.status_code == 202, second.content
    [answer] = second.json()["events"]
    assert answer["reused"] is False and answer["id"] != SHARED and answer["cloudevent_id"] == SHARED
    expand_accepted()
    assert [d["provider"] for d in get(client, b, answer["id"]).json()["deliveries"]] == ["aws-demo-b"]
    assert sorted(Delivery.objects.values_list("provider__name", flat=True)) == ["aws-demo", "aws-demo-b"]
    assert get(client, b, SHARED).status_code == 404

    other_source = post_ce(api_post, b, cloudevent(SHARED, "/elsewhere", "aws-demo-b"))
    assert other_source.status_code == 202  # not "409 already used": that would say the id exists


def test_a_key_sending_its_own_cloudevent_again_gets_that_event(api_post, two_keys):
    a, _ = two_keys
    first = post_ce(api_post, a, cloudevent("order-1", "/shop", "aws-demo")).json()["events"][0]
    again = post_ce(api_post, a, cloudevent("order-1", "/shop", "aws-demo")).json()["events"][0]
    assert (again["id"], again["reused"]) == (first["id"], True)
    assert expand_accepted() == 1 and Event.objects.count() == 1 and Delivery.objects.count() == 1


def test_the_same_cloudevent_twice_in_one_batch_is_one_event(api_post, two_keys):
    a, _ = two_keys
    one = json.loads(cloudevent("dup-1", "/shop", "aws-demo"))
    response = api_post(a.secret, json.dumps([one, one]), content_type="application/cloudevents-batch+json")
    assert response.status_code == 202, response.content
    first, second = response.json()["events"]
    assert first["id"] == second["id"] and (first["reused"], second["reused"]) == (False, True)
    assert expand_accepted() == 1 and Event.objects.count() == 1


def test_reading_an_event_shows_only_the_deliveries_within_the_keys_scope(client, api_post, two_keys, make_key):
    a, b = two_keys
    both = make_key("service-ab", providers=[*a.key.providers.all(), *b.key.providers.all()])
    body = json.dumps({"type": "T", "source": "s", "data": {}, "providers": ["aws-demo", "aws-demo-b"]})
    event_id = api_post(both.secret, body).json()["events"][0]["id"]
    expand_accepted()
    assert [d["provider"] for d in get(client, a, event_id).json()["deliveries"]] == ["aws-demo"]
    assert [d["provider"] for d in get(client, b, event_id).json()["deliveries"]] == ["aws-demo-b"]


def test_a_name_outside_the_scope_and_a_name_that_does_not_exist_get_the_same_answer(api_post, two_keys):
    _, b = two_keys
    outside = api_post(b.secret, json.dumps({"type": "T", "source": "s", "data": {}, "providers": ["aws-demo"]}))
    missing = api_post(b.secret, json.dumps({"type": "T", "source": "s", "data": {}, "providers": ["no-such"]}))
    assert (outside.status_code, missing.status_code) == (403, 403)
    assert outside.json()["errors"][0].replace("aws-demo", "X") == missing.json()["errors"][0].replace("no-such", "X")


def test_an_event_id_taken_by_the_console_gives_the_api_event_an_id_of_its_own(api_post, two_keys, demo_providers):
    from events.services.publishing import EventSpec
    from tests.publishing import publish_specs

    a, _ = two_keys
    spec = EventSpec("T", "s", {}, "", event_id=uuid.UUID(SHARED))
    [console_event] = [published.event for published in publish_specs([spec], demo_providers[:1])]
    answer = post_ce(api_post, a, cloudevent(SHARED, "/shop", "aws-demo")).json()["events"][0]
    assert answer["id"] != str(console_event.id) and answer["reused"] is False
