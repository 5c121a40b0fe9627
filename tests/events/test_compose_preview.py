"""The compose page's live check: JSON errors, schema problems, sizes and exact provider payloads."""

import json

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from events.models import Delivery, Event, EventTemplate

pytestmark = pytest.mark.django_db

PREVIEW_URL = "admin:events_event_compose_preview"


def preview(client, providers, data='{"order_id": "o-1"}', **fields):
    form = {
        "event_type": "OrderPlaced",
        "source": "com.test",
        "subject": "orders/o-1",
        "data": data,
        "providers": [p.pk for p in providers],
        **fields,
    }
    response = client.post(reverse(PREVIEW_URL), form)
    assert response.status_code == 200
    return response.json()


def by_name(result):
    return {p["name"]: p for p in result["providers"]}


def test_invalid_json_is_reported_with_line_and_column_and_nothing_is_created(admin_client, demo_providers):
    result = preview(admin_client, demo_providers, data='{\n  "order_id": "o-1",\n  "amount": 4x\n}')
    assert result["data_error"] == "Invalid JSON at line 3, column 14: Expecting ',' delimiter."
    assert result["providers"] == []
    assert (Event.objects.count(), Delivery.objects.count()) == (0, 0)


def test_a_json_array_is_not_an_event(admin_client, demo_providers):
    result = preview(admin_client, demo_providers, data="[1, 2]")
    assert result["data_error"] == "The event data must be a JSON object ({…}), not an array."


def test_each_provider_shows_exactly_what_it_receives(admin_client, demo_providers):
    result = by_name(preview(admin_client, demo_providers, data='{"order_id": "o-1", "amount": 5}'))
    entry = result["aws-demo"]["payload"]
    detail = json.loads(entry["Detail"])
    assert (entry["DetailType"], entry["EventBusName"]) == ("OrderPlaced", "default")
    assert detail["data"] == {"order_id": "o-1", "amount": 5}
    assert detail["metadata"]["subject"] == "orders/o-1"
    aws_bytes = 14 + len(entry["Source"]) + len("OrderPlaced") + len(entry["Detail"].encode())
    assert (result["aws-demo"]["bytes"], result["aws-demo"]["limit"]) == (aws_bytes, 262144)

    message = result["gcp-demo"]["payload"]
    assert json.loads(message["data"]) == {"order_id": "o-1", "amount": 5}
    assert message["attributes"]["ce-type"] == "OrderPlaced"
    assert message["attributes"]["ce-subject"] == "orders/o-1"
    assert message["attributes"]["ce-id"] == detail["metadata"]["event_id"]
    assert result["gcp-demo"]["limit"] == 10_000_000

    cloud_event = result["azure-demo"]["payload"]
    attributes = (cloud_event["specversion"], cloud_event["type"], cloud_event["source"])
    assert attributes == ("1.0", "OrderPlaced", "com.test")
    assert cloud_event["data"] == {"order_id": "o-1", "amount": 5}
    sent_bytes = len(json.dumps([cloud_event]).encode())
    assert (result["azure-demo"]["bytes"], result["azure-demo"]["limit"]) == (sent_bytes, 1024 * 1024)


def test_an_event_over_one_providers_limit_fills_its_meter_and_names_the_limit(admin_client, make_provider):
    small = make_provider("aws-small", "aws_eventbridge", aws_max_entry_bytes=1024)
    grid = make_provider("grid", "azure_eventgrid")
    result = by_name(preview(admin_client, [small, grid], data=json.dumps({"blob": "x" * 2000})))
    assert result["aws-small"]["percent"] > 100
    assert "the limit is 1,024 bytes" in result["aws-small"]["problems"][0]
    assert result["grid"]["problems"] == []
    assert result["grid"]["percent"] < 1


def test_schema_problems_of_the_chosen_template(admin_client, demo_providers, starter_templates):
    template = EventTemplate.objects.get(name="OrderPlaced")
    result = preview(admin_client, demo_providers, data='{"order_id": "o-1"}', template=template.pk)
    assert result["schema"] == "OrderPlaced"
    assert any("'amount' is a required property" in p for p in result["schema_problems"])


def test_only_publishers_may_use_the_live_check(client, demo_providers):
    viewer = User.objects.create_user("viewer", password="pw-12345-long", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(viewer)
    response = client.post(reverse(PREVIEW_URL), {"data": "{}", "providers": [demo_providers[0].pk]})
    assert response.status_code == 403


def test_with_no_provider_chosen_the_matching_routes_choose_and_say_so(admin_client, demo_providers):
    from events.models import Route

    aws = next(p for p in demo_providers if p.name == "aws-demo")
    route = Route.objects.create(name="orders", filter={"prefix": {"type": "Order"}})
    route.providers.set([aws])
    result = preview(admin_client, [])
    assert result["routed"] is True
    assert [(p["name"], p["route"]) for p in result["providers"]] == [("aws-demo", "orders")]
    unrouted = preview(admin_client, [], event_type="RefundIssued")
    assert (unrouted["routed"], unrouted["providers"]) == (True, [])
    chosen = preview(admin_client, demo_providers)
    assert chosen["routed"] is False and {p["route"] for p in chosen["providers"]} == {""}
