"""The compose page, the live event page and the read-only history, through Django's test client."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse
from django_q.models import OrmQ

from events.models import Delivery, Event
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db

COMPOSE_URL = "admin:events_event_compose"


def compose(client, providers, data='{"order_id": "o-1"}', **fields):
    form = {
        "event_type": "OrderPlaced",
        "source": "com.test",
        "subject": "",
        "data": data,
        "providers": [p.pk for p in providers],
        **fields,
    }
    return client.post(reverse(COMPOSE_URL), form)


def assert_nothing_created():
    assert (Event.objects.count(), Delivery.objects.count(), OrmQ.objects.count()) == (0, 0, 0)


def test_compose_page_lists_enabled_providers_with_kind_and_mode(admin_client, demo_providers):
    page = admin_client.get(reverse(COMPOSE_URL)).content.decode()
    for label in (
        "aws-demo — AWS EventBridge (demo)",
        "gcp-demo — GCP Pub/Sub (demo)",
        "azure-demo — Azure Event Grid (demo)",
    ):
        assert label in page


def test_valid_event_is_created_and_redirects_to_its_page(admin_client, demo_providers, admin_user):
    response = compose(admin_client, demo_providers, subject="orders/o-1")
    event = Event.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:events_event_change", args=[event.pk])
    assert (event.type, event.subject, event.data, event.created_by) == (
        "OrderPlaced",
        "orders/o-1",
        {"order_id": "o-1"},
        admin_user,
    )
    assert event.deliveries.count() == 3
    page = admin_client.get(response.url).content.decode()
    assert 'id="helios-deliveries"' in page
    assert page.count('data-delivery-id="') == 3
    assert reverse("admin:events_event_status", args=[event.pk]) in page


def test_invalid_json_shows_line_and_column_and_creates_nothing(admin_client, demo_providers):
    response = compose(admin_client, demo_providers, data='{\n  "order_id": "o-1",\n  "amount": \n}')
    assert response.status_code == 200
    assert "Invalid JSON at line 4, column 1: Expecting value." in response.content.decode()
    assert_nothing_created()


def test_json_that_is_not_an_object_is_refused(admin_client, demo_providers):
    response = compose(admin_client, demo_providers, data="[1, 2, 3]")
    assert "The event data must be a JSON object ({…}), not an array." in response.content.decode()
    assert_nothing_created()


def test_no_provider_chosen_is_refused(admin_client, demo_providers):
    response = compose(admin_client, [])
    assert "Choose at least one provider: no route matches this event." in response.content.decode()
    assert_nothing_created()


@pytest.mark.parametrize(
    ("kind", "size", "message"),
    [
        ("aws_eventbridge", 300_000, "The EventBridge entry is"),
        ("azure_eventgrid", 1_100_000, "The Event Grid event is"),
        ("gcp_pubsub", 10_000_100, "The Pub/Sub message data is"),
    ],
)
def test_payload_over_a_providers_limit_is_refused_naming_it(admin_client, make_provider, kind, size, message):
    config = make_provider(f"{kind}-x", kind)
    response = compose(admin_client, [config], data=json.dumps({"pad": "x" * size}))
    assert f"{config.name}: {message}" in response.content.decode()
    assert_nothing_created()


def test_status_endpoint_reports_each_delivery_until_all_final(admin_client, demo_providers, sync_tasks):
    compose(admin_client, demo_providers)
    event = Event.objects.get()
    body = admin_client.get(reverse("admin:events_event_status", args=[event.pk])).json()
    assert body["all_final"] is True
    assert sorted((d["provider"], d["status"], d["attempts"]) for d in body["deliveries"]) == [
        ("aws-demo", "succeeded", 1),
        ("azure-demo", "succeeded", 1),
        ("gcp-demo", "succeeded", 1),
    ]
    assert all(d["provider_message_id"] for d in body["deliveries"])


def test_status_endpoint_is_not_final_while_deliveries_wait(admin_client, demo_providers):
    compose(admin_client, demo_providers)
    event = Event.objects.get()
    body = admin_client.get(reverse("admin:events_event_status", args=[event.pk])).json()
    assert body["all_final"] is False
    assert {d["status"] for d in body["deliveries"]} == {"pending"}


def test_history_is_read_only(admin_client, demo_providers, sync_tasks):
    compose(admin_client, demo_providers)
    delivery = Delivery.objects.first()
    page = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk])).content.decode()
    assert 'name="status"' not in page and "Save" not in page
    assert admin_client.post(reverse("admin:events_delivery_delete", args=[delivery.pk])).status_code == 403
    assert admin_client.get(reverse("admin:events_delivery_add")).status_code == 403


def test_delivery_history_filters_and_searches(admin_client, demo_providers, sync_tasks):
    compose(admin_client, demo_providers)
    event = Event.objects.get()
    aws = Delivery.objects.get(provider__name="aws-demo")
    url = reverse("admin:events_delivery_changelist")
    by_event = admin_client.get(url, {"q": str(event.id)}).content.decode()
    assert by_event.count('class="field-status_badge"') == 3
    by_message = admin_client.get(url, {"q": aws.provider_message_id}).content.decode()
    assert by_message.count('class="field-status_badge"') == 1
    by_kind = admin_client.get(url, {"provider__kind__exact": "gcp_pubsub", "status__exact": "succeeded"})
    assert by_kind.content.decode().count('class="field-status_badge"') == 1
    attempts_page = admin_client.get(reverse("admin:events_delivery_change", args=[aws.pk])).content.decode()
    assert "Attempt" in attempts_page and aws.provider_message_id in attempts_page


def test_a_viewer_without_add_permission_cannot_compose(client, demo_providers):
    viewer = User.objects.create_user("viewer", password="pw-12345-long", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(viewer)
    assert client.get(reverse(COMPOSE_URL)).status_code == 403
    assert compose(client, demo_providers).status_code == 403
    assert_nothing_created()


def test_provider_list_shows_mode_badge_and_effective_mode_reason(admin_client, make_provider):
    make_provider("aws-prod", "aws_eventbridge", mode="production")
    page = admin_client.get(reverse("admin:providers_providerconfig_changelist")).content.decode()
    assert "helios-badge--production" in page
    assert "this deployment does not allow production (HELIOS_DEPLOYMENT_MODE=demo)" in page


def test_a_form_larger_than_the_console_accepts_gets_words_not_an_error_page(admin_client, demo_providers, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = compose(admin_client, demo_providers, data=json.dumps({"pad": "x" * 20_000}))
    assert response.status_code == 200
    assert "larger than the 10,000 bytes the console accepts. Nothing was created." in response.content.decode()
    assert_nothing_created()


def test_sending_to_production_needs_a_confirmation_that_names_the_providers(admin_client, production, make_provider):
    prod = make_provider("az-prod", "azure_eventgrid", mode="production", credentials_env_prefix="TEST_")
    demo = make_provider("gcp-demo", "gcp_pubsub")
    response = compose(admin_client, [prod, demo])
    page = response.content.decode()
    assert response.status_code == 200
    assert "This sends to PRODUCTION: az-prod. Confirm with exactly these names to send for real." in page
    assert 'name="confirm_production" value="az-prod"' in page
    assert_nothing_created()
    assert compose(admin_client, [prod, demo], confirm_production="someone-else").status_code == 200
    assert_nothing_created()
    assert compose(admin_client, [prod, demo], confirm_production="az-prod").status_code == 302
    assert sorted(Delivery.objects.values_list("provider__name", "mode")) == [
        ("az-prod", "production"),
        ("gcp-demo", "demo"),
    ]


def test_history_filters_several_statuses_error_code_and_type(admin_client, make_provider, sync_tasks):
    ok = make_provider("ok", "gcp_pubsub")
    down = make_provider("down", "azure_eventgrid", demo_failure_rate=1.0, max_attempts=1)
    compose(admin_client, [ok, down])
    url = reverse("admin:events_delivery_changelist")

    def rows(**params):
        return admin_client.get(url, params).content.decode().count('class="field-status_badge"')

    assert rows(statuses="dead") == 1
    assert rows(statuses="dead,succeeded") == 2
    assert rows(statuses="failed") == 0
    assert rows(error_code="ServiceUnavailable") == 1
    assert rows(event_type="OrderPlaced") == 2
    assert rows(event_type="OrderShipped") == 0
    sidebar = admin_client.get(url).content.decode()
    assert "?error_code=ServiceUnavailable" in sidebar and "?event_type=OrderPlaced" in sidebar


def test_search_is_exact_and_case_insensitive_on_subject(admin_client, demo_providers, sync_tasks):
    compose(admin_client, demo_providers, subject="orders/O-1")
    compose(admin_client, demo_providers, subject="orders/O-10")
    url = reverse("admin:events_delivery_changelist")
    page = admin_client.get(url, {"q": " ORDERS/o-1 "}).content.decode()
    assert page.count('class="field-status_badge"') == 3
    events = admin_client.get(reverse("admin:events_event_changelist"), {"q": "orders/o-10"}).content.decode()
    assert events.count('class="field-short_id"') == 1


def test_counts_are_capped_so_big_lists_never_count_every_row(admin_client, demo_providers, monkeypatch):
    from events import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    compose(admin_client, demo_providers)
    url = reverse("admin:events_delivery_changelist")
    page = admin_client.get(url).content.decode()
    assert '<span id="helios-result-count">more than 2</span> deliveries' in page
    page = admin_client.get(url, {"provider__kind__exact": "gcp_pubsub"}).content.decode()
    assert '<span id="helios-result-count">1</span> delivery' in page


def test_export_streams_the_chosen_deliveries_as_csv_and_json_lines(admin_client, demo_providers, sync_tasks):
    compose(admin_client, demo_providers)
    url = reverse("admin:events_delivery_changelist")
    ids = list(Delivery.objects.values_list("pk", flat=True))
    response = admin_client.post(url, {"action": "export_csv", "_selected_action": ids})
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("delivery_id,event_id,event_type")
    assert len(lines) == 4 and all(",succeeded," in line for line in lines[1:])
    response = admin_client.post(url, {"action": "export_jsonl", "_selected_action": ids})
    records = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert sorted(r["provider"] for r in records) == ["aws-demo", "azure-demo", "gcp-demo"]
    from core.models import AuditEntry

    assert AuditEntry.objects.filter(action="export").count() == 2


def test_csv_exports_are_safe_to_open_in_a_spreadsheet(admin_client, make_provider):
    """OWASP CSV injection: a cell starting with =, +, -, @, tab or CR is prefixed with ' (text, not formula)."""
    config = make_provider("sheet", "gcp_pubsub")
    event = publish_event(event_type='=HYPERLINK("http://x")', source="s", data={}, providers=[config], ring=False)
    Delivery.objects.filter(event=event).update(last_error="@SUM(1+1)", last_error_code="+cmd", status="failed")
    response = admin_client.post(
        reverse("admin:events_delivery_changelist"),
        {"action": "export_csv", "_selected_action": list(Delivery.objects.values_list("pk", flat=True))},
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["event_type"] == '\'=HYPERLINK("http://x")'
    assert (rows[0]["last_error_code"], rows[0]["last_error"]) == ("'+cmd", "'@SUM(1+1)")
    assert rows[0]["provider"] == "sheet"  # ordinary text unchanged


def test_export_needs_its_permission(client, demo_providers):
    viewer = User.objects.create_user("v", password="a-long-password-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)
    publish_event(event_type="T", source="s", data={}, providers=demo_providers[:1], ring=False)
    ids = list(Delivery.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:events_delivery_changelist"), {"action": "export_csv", "_selected_action": ids}
    )
    assert not getattr(response, "streaming", False)
    operator = User.objects.create_user("o", password="a-long-password-1", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operator"))
    client.force_login(operator)
    response = client.post(
        reverse("admin:events_delivery_changelist"), {"action": "export_csv", "_selected_action": ids}
    )
    assert response.streaming  # the same request with the permission exports


def test_duplicate_into_compose_prefills_from_an_event(admin_client, demo_providers):
    compose(admin_client, demo_providers, data='{"order_id": "o-dup"}', subject="orders/o-dup")
    event = Event.objects.get()
    page = admin_client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert f"?from_event={event.pk}" in page
    prefilled = admin_client.get(reverse(COMPOSE_URL), {"from_event": str(event.pk)}).content.decode()
    assert "o-dup" in prefilled and 'value="orders/o-dup"' in prefilled
    assert admin_client.get(reverse(COMPOSE_URL), {"from_event": "not-a-uuid"}).status_code == 200


def test_resend_to_other_providers_keeps_the_event_id(admin_client, demo_providers, sync_tasks):
    aws, _, gcp = sorted(demo_providers, key=lambda p: p.name)
    compose(admin_client, [aws])
    event = Event.objects.get()
    url = reverse("admin:events_event_changelist")
    page = admin_client.post(url, {"action": "resend_to_other_providers", "_selected_action": [event.pk]})
    choices = page.content.decode()
    assert "azure-demo" in choices and "gcp-demo" in choices and f'value="{aws.pk}"' not in choices
    response = admin_client.post(
        url,
        {
            "action": "resend_to_other_providers",
            "_selected_action": [event.pk],
            "confirm": "yes",
            "providers": [gcp.pk],
        },
    )
    assert response.status_code == 302
    assert sorted(event.deliveries.values_list("provider__name", "status")) == [
        ("aws-demo", "succeeded"),
        ("gcp-demo", "succeeded"),
    ]
    from core.models import AuditEntry

    assert AuditEntry.objects.get(action="resend").summary == "Resent OrderPlaced to gcp-demo"
    nothing = admin_client.post(
        url, {"action": "resend_to_other_providers", "_selected_action": [event.pk], "confirm": "yes"}
    )
    assert "already has a delivery for every chosen provider" in nothing.content.decode()


def test_resending_to_production_needs_the_confirmation_naming_it(admin_client, production, make_provider):
    demo = make_provider("aws-demo", "aws_eventbridge")
    prod = make_provider("az-prod", "azure_eventgrid", mode="production", credentials_env_prefix="TEST_")
    compose(admin_client, [demo])
    event = Event.objects.get()
    url = reverse("admin:events_event_changelist")
    form = {"action": "resend_to_other_providers", "_selected_action": [event.pk], "confirm": "yes"}
    page = admin_client.post(url, {**form, "providers": [prod.pk]}).content.decode()
    assert "This sends to PRODUCTION: az-prod." in page
    assert 'name="confirm_production" value="az-prod"' in page
    assert event.deliveries.count() == 1
    response = admin_client.post(url, {**form, "providers": [prod.pk], "confirm_production": "az-prod"})
    assert response.status_code == 302
    assert event.deliveries.get(provider=prod).mode == "production"


def test_the_short_id_a_list_shows_finds_the_event_and_its_deliveries(admin_client, demo_providers, sync_tasks):
    compose(admin_client, demo_providers, subject="orders/a")
    compose(admin_client, demo_providers, subject="orders/b")
    first = Event.objects.get(subject="orders/a")
    short = str(first.id)[:8]
    events_url, deliveries_url = reverse("admin:events_event_changelist"), reverse("admin:events_delivery_changelist")
    events = admin_client.get(events_url).content.decode()
    assert f">{short}<" in events  # the short id the list shows
    found = admin_client.get(events_url, {"q": short.upper()}).content.decode()
    assert found.count('class="field-short_id"') == 1 and short in found
    assert admin_client.get(events_url, {"q": str(first.id)[:11]}).content.decode().count('class="field-short_id"') == 1
    deliveries = admin_client.get(deliveries_url, {"q": short}).content.decode()
    assert deliveries.count('class="field-status_badge"') == 3
    assert admin_client.get(events_url, {"q": "zzzz"}).content.decode().count('class="field-short_id"') == 0
