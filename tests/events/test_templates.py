"""Event templates: starter set, compose from a template, JSON Schema checked at compose time."""

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from events.models import Event, EventTemplate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("starter_templates")]
COMPOSE = "admin:events_event_compose"


def test_starter_templates_exist_with_valid_schemas():
    names = set(EventTemplate.objects.values_list("name", flat=True))
    assert names >= {"OrderPlaced", "PaymentProcessed", "OrderShipped", "RefundIssued"}
    for template in EventTemplate.objects.all():
        template.full_clean()  # the schema itself is valid, and the default data satisfies it
        from events.services.validation import schema_problems

        assert schema_problems(template.json_schema, template.data) == []


def test_an_invalid_schema_is_refused():
    template = EventTemplate(name="Bad", event_type="T", source="s", json_schema={"type": "nonsense"})
    with pytest.raises(ValidationError, match="Not a valid JSON Schema"):
        template.full_clean()


def test_compose_prefills_from_a_template(admin_client, demo_providers):
    template = EventTemplate.objects.get(name="PaymentProcessed")
    page = admin_client.get(reverse(COMPOSE), {"template": template.pk}).content.decode()
    assert 'data-template="RefundIssued"' in page
    assert 'value="PaymentProcessed"' in page and 'value="com.example.payments"' in page
    assert "pay-501" in page


def test_schema_errors_name_the_path_and_nothing_is_created_then_the_fix_sends(admin_client, demo_providers):
    template = EventTemplate.objects.get(name="OrderPlaced")
    bad = dict(template.data, amount=-5, lines=[{"sku": "A", "quantity": 0}])
    form = {
        "template": template.pk,
        "event_type": "OrderPlaced",
        "source": "com.example.shop",
        "data": json.dumps(bad),
        "providers": [demo_providers[0].pk],
    }
    page = admin_client.post(reverse(COMPOSE), form).content.decode()
    assert "Template OrderPlaced: data.amount: -5 is less than or equal to the minimum of 0" in page
    assert "Template OrderPlaced: data.lines[0].quantity: 0 is less than the minimum of 1" in page
    assert Event.objects.count() == 0
    form["data"] = json.dumps(template.data)
    assert admin_client.post(reverse(COMPOSE), form).status_code == 302
    assert Event.objects.get().data == template.data


def test_cli_uses_template_defaults_and_checks_its_schema(demo_providers):
    out = io.StringIO()
    call_command("publish", "--template", "OrderShipped", "--provider", "gcp", "--sync", stdout=out)
    event = Event.objects.get()
    assert (event.type, event.source, event.subject) == ("OrderShipped", "com.example.warehouse", "orders/ord-1001")
    assert event.data["carrier"] == "DHL"
    with pytest.raises(CommandError, match=r"Template RefundIssued: data: 'refund_id' is a required property") as err:
        call_command(
            "publish", "--template", "RefundIssued", "--provider", "gcp", "--data", '{"order_id": "o"}', stdout=out
        )
    assert err.value.returncode == 2
    with pytest.raises(CommandError, match="Unknown event template 'Nope'"):
        call_command("publish", "--template", "Nope", "--provider", "gcp", stdout=out)
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("data", '{"amount": NaN}', "NaN is not a JSON number at line 1, column 12"),
        ("data", '{"a": "\\u0000"}', "data.a: the text contains the NUL character"),
        ("data", "[1, 2]", "The event data must be a JSON object"),
        ("json_schema", '{"type": "object", "type": "array"}', "schema: the key 'type' appears more than once"),
    ],
)
def test_template_json_goes_through_the_input_gate(admin_client, field, text, message):
    form = {"name": "Hostile", "event_type": "T", "source": "s", "subject": "", "data": "{}", "json_schema": ""}
    response = admin_client.post(reverse("admin:events_eventtemplate_add"), {**form, field: text})
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not EventTemplate.objects.filter(name="Hostile").exists()
