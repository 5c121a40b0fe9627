"""An event says who made it and from where, on its page and in the list: the console user, the
API key, or the CLI, with the client's address."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from events.models import Event
from gateway.expansion import expand_accepted

pytestmark = pytest.mark.django_db


def created_by_on_page(admin_client, event: Event) -> str:
    page = admin_client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    return page.split("Created by:</label>")[1].split("</div>")[0]


def test_each_way_in_names_its_creator(admin_client, admin_user, api_post, make_key, demo_providers):
    aws = next(c for c in demo_providers if c.name == "aws-demo")
    key = make_key("order-service", providers=[aws])
    answer = api_post(key.secret, {"type": "OrderPlaced", "source": "com.test", "data": {}, "providers": ["aws-demo"]})
    expand_accepted()
    through_api = Event.objects.get(pk=answer.json()["events"][0]["id"])
    assert through_api.created_from == "API key order-service, from 127.0.0.1"

    call_command("publish", "--provider", "aws-demo", "--data", '{"order_id": "o-1"}', stdout=io.StringIO())
    from_cli = Event.objects.exclude(pk=through_api.pk).get()
    assert from_cli.created_from == "CLI"

    admin_client.post(
        reverse("admin:events_event_compose"),
        {"event_type": "OrderPlaced", "source": "com.test", "data": "{}", "providers": [aws.pk]},
    )
    composed = Event.objects.exclude(pk__in=[through_api.pk, from_cli.pk]).get()

    assert "API key order-service, from 127.0.0.1" in created_by_on_page(admin_client, through_api)
    assert "CLI" in created_by_on_page(admin_client, from_cli)
    assert f"{admin_user.get_username()}, from 127.0.0.1" in created_by_on_page(admin_client, composed)
    listed = admin_client.get(reverse("admin:events_event_changelist")).content.decode()
    assert "API key order-service, from 127.0.0.1" in listed and ">CLI<" in listed
