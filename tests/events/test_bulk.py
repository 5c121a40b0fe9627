"""Bulk send: JSON Lines, CSV and N-from-a-template uploads, checked line by line, all or nothing."""

import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_q.models import OrmQ

from core.models import AuditAction, AuditEntry
from events.models import BulkUpload, Delivery, Event, EventTemplate

pytestmark = pytest.mark.django_db

UPLOAD_URL = "admin:events_bulkupload_add"


def upload(client, providers, content: bytes = b"", name="events.jsonl", **fields):
    form = {"event_type": "OrderPlaced", "source": "com.test", "providers": [p.pk for p in providers], **fields}
    if content:
        form["file"] = SimpleUploadedFile(name, content)
    return client.post(reverse(UPLOAD_URL), form)


def nothing_created() -> bool:
    counts = (Event.objects.count(), Delivery.objects.count(), BulkUpload.objects.count(), OrmQ.objects.count())
    return counts == (0, 0, 0, 0)


def error_lines(response) -> list[str]:
    return [str(e) for e in response.context["errors"]]


def test_a_json_lines_file_creates_every_event_for_every_provider_in_one_upload(admin_client, demo_providers):
    lines = [
        json.dumps({"type": "OrderShipped", "subject": "orders/1", "data": {"order_id": "o-1"}}),
        "",
        json.dumps({"order_id": "o-2", "amount": 3}),
        json.dumps({"order_id": "o-3"}),
    ]
    response = upload(admin_client, demo_providers, "\n".join(lines).encode())
    batch = BulkUpload.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:events_bulkupload_change", args=[batch.pk])
    events = {e.data["order_id"]: e for e in Event.objects.filter(bulk_upload=batch)}
    assert (batch.event_count, batch.source, batch.filename) == (3, "jsonl", "events.jsonl")
    assert (events["o-1"].type, events["o-1"].subject) == ("OrderShipped", "orders/1")
    assert (events["o-2"].type, events["o-2"].source, events["o-2"].data) == (
        "OrderPlaced",
        "com.test",
        {"order_id": "o-2", "amount": 3},
    )
    assert Delivery.objects.filter(event__bulk_upload=batch).count() == 9
    assert OrmQ.objects.count() == 3  # one doorbell per provider, not per event
    entry = AuditEntry.objects.get(action=AuditAction.BULK_UPLOAD)
    assert entry.target == f"bulk upload #{batch.pk}"
    assert "3 events (JSON Lines file)" in entry.summary


def test_a_bad_file_creates_nothing_and_lists_every_bad_line_in_order(admin_client, demo_providers, starter_templates):
    template = EventTemplate.objects.get(name="OrderPlaced")
    good = {"order_id": "o-1", "customer_id": "c-1", "amount": 5, "currency": "EUR"}
    lines = [
        json.dumps(good),
        '{"order_id": "o-2", "amount": }',
        json.dumps(good),
        "[1, 2]",
        json.dumps({**good, "amount": -1}),
    ]
    response = upload(admin_client, demo_providers, "\n".join(lines).encode(), template=template.pk)
    assert response.status_code == 200
    assert nothing_created()
    assert error_lines(response) == [
        "line 2: Invalid JSON at column 31: Expecting value.",
        "line 4: a line must be a JSON object ({…}), not an array.",
        "line 5: Template OrderPlaced: data.amount: -1 is less than or equal to the minimum of 0",
    ]
    assert "Nothing was created" in response.content.decode()


def test_an_event_over_a_providers_limit_names_its_line_and_the_provider(admin_client, make_provider):
    small = make_provider("aws-small", "aws_eventbridge", aws_max_entry_bytes=1024)
    content = (json.dumps({"n": 1}) + "\n" + json.dumps({"blob": "x" * 2000})).encode()
    response = upload(admin_client, [small], content)
    assert nothing_created()
    [error] = error_lines(response)
    assert error.startswith("line 2: aws-small: The EventBridge entry is ")


def test_a_csv_file_maps_columns_to_attributes_and_data_fields(admin_client, demo_providers):
    content = b"type,subject,order_id,amount,paid\nPaymentProcessed,orders/7,007,12.5,true\n,,o-8,3,\n"
    response = upload(admin_client, demo_providers[:1], content, name="payments.csv")
    assert response.status_code == 302
    first, second = Event.objects.order_by("subject")
    assert (second.type, second.subject) == ("PaymentProcessed", "orders/7")
    assert second.data == {"order_id": "007", "amount": 12.5, "paid": True}
    assert (first.type, first.data) == ("OrderPlaced", {"order_id": "o-8", "amount": 3, "paid": ""})
    assert BulkUpload.objects.get().source == "csv"


def test_a_csv_data_column_holds_json_and_a_row_with_extra_cells_is_an_error(admin_client, demo_providers):
    content = b'subject,data\norders/1,"{""order_id"": ""o-1""}"\norders/2,"{}",extra\norders/3,not json\n'
    response = upload(admin_client, demo_providers[:1], content, name="events.csv")
    assert nothing_created()
    assert error_lines(response) == [
        "line 3: more cells than the header has columns.",
        "line 4: the data cell: Invalid JSON at column 1: Expecting value.",
    ]


def test_n_events_from_a_template_for_a_rehearsal(admin_client, demo_providers, starter_templates):
    template = EventTemplate.objects.get(name="RefundIssued")
    response = upload(admin_client, demo_providers[:2], template=template.pk, count=25)
    batch = BulkUpload.objects.get()
    assert response.status_code == 302
    assert (batch.source, batch.event_count, batch.template) == ("template", 25, template)
    assert set(Event.objects.values_list("type", flat=True)) == {template.event_type}
    assert Delivery.objects.count() == 50


def test_the_form_needs_a_file_or_a_template_and_a_count(admin_client, demo_providers, starter_templates):
    response = upload(admin_client, demo_providers, count=3)
    assert response.context["form"].errors["template"] == ["N events need a template to copy."]
    response = upload(admin_client, demo_providers)
    assert response.context["form"].errors["file"] == ["Choose a file, or a template and a number of events."]
    assert nothing_created()


def test_limits_on_events_and_encoding(admin_client, demo_providers, settings):
    settings.HELIOS_BULK_MAX_EVENTS = 2
    response = upload(admin_client, demo_providers, b'{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    assert error_lines(response) == ["The upload has 3 events; at most 2 are accepted at once."]
    response = upload(admin_client, demo_providers, '{"a": "é"}'.encode("latin-1"))
    assert error_lines(response) == ["The file is not UTF-8 text (byte 8)."]
    assert nothing_created()


def test_sending_in_bulk_to_production_needs_the_confirmation(admin_client, production, make_provider):
    prod = make_provider("az-prod", "azure_eventgrid", mode="production", credentials_env_prefix="TEST_")
    response = upload(admin_client, [prod], b'{"a": 1}\n')
    assert 'name="confirm_production" value="az-prod"' in response.content.decode()
    assert nothing_created()
    response = upload(admin_client, [prod], b'{"a": 1}\n', confirm_production="az-prod")
    assert response.status_code == 302
    assert Delivery.objects.get().mode == "production"


def test_only_operators_may_send_in_bulk_and_viewers_see_progress(client, demo_providers):
    publisher = User.objects.create_user("pub", password="a-long-password-1", is_staff=True)
    publisher.groups.add(Group.objects.get(name="Publisher"))
    client.force_login(publisher)
    assert upload(client, demo_providers, b'{"a": 1}\n').status_code == 403
    assert nothing_created()
    operator = User.objects.create_user("op", password="a-long-password-1", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operator"))
    client.force_login(operator)
    assert upload(client, demo_providers, b'{"a": 1}\n').status_code == 302
    viewer = User.objects.create_user("viewer", password="a-long-password-1", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewer"))
    client.force_login(viewer)
    batch = BulkUpload.objects.get()
    progress = client.get(reverse("admin:events_bulkupload_progress", args=[batch.pk])).json()
    assert (progress["events"], progress["deliveries"], progress["final"], progress["done"]) == (1, 3, 0, False)
    assert progress["by_status"]["pending"] == 3
    assert [(row["name"], row["deliveries"], row["final"]) for row in progress["by_provider"]] == [
        ("aws-demo", 1, 0),
        ("azure-demo", 1, 0),
        ("gcp-demo", 1, 0),
    ]


def test_progress_per_provider_names_the_circuit_that_holds_one_back(admin_client, demo_providers):
    from providers.models import ProviderRuntime

    gcp = next(c for c in demo_providers if c.name == "gcp-demo")
    ProviderRuntime.objects.create(
        provider=gcp,
        circuit_state="open",
        circuit_reason="5 failures in a row",
        circuit_changed_at="2026-11-27T20:13:35Z",
    )
    upload(admin_client, demo_providers, b'{"a": 1}\n')
    batch = BulkUpload.objects.get()
    rows = admin_client.get(reverse("admin:events_bulkupload_progress", args=[batch.pk])).json()["by_provider"]
    waiting = {row["name"]: row["waiting"] for row in rows}
    assert waiting["gcp-demo"].startswith("The circuit is open since 20:13:35 UTC (5 failures in a row)")
    assert waiting["aws-demo"] == ""
    page = admin_client.get(reverse("admin:events_bulkupload_change", args=[batch.pk])).content.decode()
    assert '<tr data-provider="gcp-demo">' in page and "The circuit is open since" in page


def test_progress_counts_final_deliveries(admin_client, demo_providers, sync_tasks):
    upload(admin_client, demo_providers, b'{"a": 1}\n{"a": 2}\n')
    batch = BulkUpload.objects.get()
    progress = admin_client.get(reverse("admin:events_bulkupload_progress", args=[batch.pk])).json()
    assert (progress["deliveries"], progress["final"], progress["done"]) == (6, 6, True)
    assert progress["by_status"]["succeeded"] == 6
    page = admin_client.get(reverse("admin:events_bulkupload_change", args=[batch.pk])).content.decode()
    assert f"?event__bulk_upload__id__exact={batch.pk}" in page
    history_url = reverse("admin:events_delivery_changelist") + f"?event__bulk_upload__id__exact={batch.pk}"
    history = admin_client.get(history_url)
    assert history.status_code == 200
    assert history.context["cl"].result_count == 6


def test_the_same_problem_on_many_lines_is_reported_once_with_its_lines(admin_client, demo_providers):
    content = "\n".join(json.dumps({"n": n}) for n in range(1, 9)).encode()
    response = upload(admin_client, demo_providers[:1], content, event_type="", source="com.test")
    assert error_lines(response) == [
        "lines 1, 2, 3, 4, 5 and 3 more: The event type is required.",
        "Every event needs a type and a source: give them on each line (JSON Lines members `type` and `source`, "
        "or CSV columns), fill Event type and Source on the form, or choose a template.",
    ]
    assert nothing_created()


def test_lines_without_a_subject_get_none_not_the_templates_example(admin_client, demo_providers, starter_templates):
    template = EventTemplate.objects.get(name="OrderShipped")
    assert template.subject  # the starter's example subject, e.g. orders/ord-1001
    shipped = {"carrier": "DHL", "tracking_number": "JD0146"}
    lines = [json.dumps({"order_id": f"o-{n}", **shipped}) for n in range(3)]
    lines.append(json.dumps({"subject": "orders/o-9", "data": {"order_id": "o-9", **shipped}}))
    response = upload(
        admin_client, demo_providers[:1], "\n".join(lines).encode(), template=template.pk, event_type="", source=""
    )
    assert response.status_code == 302, error_lines(response)
    subjects = sorted(Event.objects.values_list("subject", flat=True))
    assert subjects == ["", "", "", "orders/o-9"]
    assert set(Event.objects.values_list("type", flat=True)) == {template.event_type}


def test_a_file_without_type_or_source_says_where_to_give_them(admin_client, demo_providers):
    content = b'{"order_id": "o-1"}\n{"order_id": "o-2"}\n'
    response = upload(admin_client, demo_providers[:1], content, event_type="", source="")
    errors = error_lines(response)
    assert errors[0] == "lines 1, 2: The event type is required."
    assert errors[1] == "lines 1, 2: The source is required."
    assert errors[-1].startswith("Every event needs a type and a source: give them on each line")
    assert nothing_created()
