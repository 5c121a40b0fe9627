"""The input gate on every way in: compose, live check, `manage.py publish`, bulk JSON Lines and
CSV, resend. Hostile data gets a message that names the problem and where, and nothing is
created; generated text either is refused that way or becomes an event whose stored data is
exactly what each provider receives."""

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_q.models import OrmQ
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import BulkUpload, Delivery, Event
from events.services.operator import resend_to
from events.services.publishing import EventSpec, outgoing_event
from events.services.validation import PublishRejected
from providers.kinds import payload_format
from providers.live_clients import client_settings
from tests.publishing import publish_event, publish_specs

pytestmark = pytest.mark.django_db

COMPOSE = "admin:events_event_compose"
PREVIEW = "admin:events_event_compose_preview"
BULK = "admin:events_bulkupload_add"
GENERATED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Text Python's json accepts (or chokes on) that a cloud or PostgreSQL cannot take, and what the
#: operator is told.
HOSTILE = [
    ('{"amount": NaN}', "NaN is not a JSON number at line 1, column 12"),
    ('{"amount": Infinity}', "Infinity is not a JSON number"),
    ('{"amount": -Infinity}', "-Infinity is not a JSON number"),
    ('{"amount": 1e400}', "data.amount: the number is too large"),
    ('{"note": "a\\u0000b"}', "data.note: the text contains the NUL character"),
    ('{"k\\u0000": 1}', "data: a key contains the NUL character"),
    ('{"note": "\\ud800"}', "data.note: the text contains a lone surrogate"),
    ('{"a": ' + "[" * 5000 + "]" * 5000 + "}", "nested more than 32 levels deep"),
    ('{"a": ' + "[" * 900 + "]" * 900 + "}", "nested more than 32 levels deep"),
    ('{"n": ' + "7" * 4400 + "}", "A number has more than 4,300 digits"),
    ('{"order": {"id": 1, "id": 2}}', "data.order: the key 'id' appears more than once"),
]


def counts() -> tuple[int, int, int, int]:
    return Event.objects.count(), Delivery.objects.count(), BulkUpload.objects.count(), OrmQ.objects.count()


def cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
    """`manage.py publish` as a command line runs it: (exit status, stdout + error message)."""
    out = io.StringIO()
    if stdin is not None:
        import sys

        saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command("publish", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    finally:
        if stdin is not None:
            sys.stdin = saved
    return 0, out.getvalue()


def compose(client, providers, data: str, **fields: str):
    form = {"event_type": "OrderPlaced", "source": "com.test", "subject": "", "data": data}
    form.update(fields)
    return client.post(reverse(COMPOSE), {**form, "providers": [p.pk for p in providers]})


def bulk(client, providers, content: bytes, name: str):
    form = {"event_type": "OrderPlaced", "source": "com.test", "providers": [p.pk for p in providers]}
    return client.post(reverse(BULK), {**form, "file": SimpleUploadedFile(name, content)})


@pytest.mark.parametrize(("text", "message"), HOSTILE)
def test_hostile_data_is_refused_in_words_on_every_way_in(admin_client, demo_providers, text, message):
    response = compose(admin_client, demo_providers, text)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["data"])

    preview = admin_client.post(reverse(PREVIEW), {"data": text, "event_type": "T", "source": "s"})
    assert preview.status_code == 200 and message in preview.json()["data_error"]

    code, output = cli("--provider", "all", "--data", text)
    assert code == 2 and message in output and "Traceback" not in output

    response = bulk(admin_client, demo_providers, (text + "\n").encode(), "events.jsonl")
    shown = " ".join(str(e) for e in response.context["errors"])
    assert response.status_code == 200 and shown.startswith("line 1: ")
    assert message.replace("data.", "$.").replace("data:", "$:").replace("line 1, ", "") in shown
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("NaN", "column 'amount': NaN is not a JSON number at column 1; JSON has no NaN or infinity. (pandas writes"),
        ("-Infinity", "column 'amount': -Infinity is not a JSON number"),
        ("1e400", "column 'amount': data.amount: the number is too large"),
        ("1" * 4400, "column 'amount': A number has more than 4,300 digits"),
    ],
)
def test_a_csv_cell_json_cannot_carry_is_refused_with_its_line_and_column(admin_client, demo_providers, cell, message):
    response = bulk(admin_client, demo_providers, f"order_id,amount\no-1,3\no-2,{cell}\n".encode(), "orders.csv")
    errors = [str(e) for e in response.context["errors"]]
    assert len(errors) == 1 and errors[0].startswith(f"line 3: {message}")
    assert counts() == (0, 0, 0, 0)


def test_csv_text_cells_that_look_like_numbers_stay_text(admin_client, demo_providers):
    response = bulk(admin_client, demo_providers[:1], b"order_id,zip,nan\n007,01234,nan\n", "orders.csv")
    assert response.status_code == 302
    assert Event.objects.get().data == {"order_id": "007", "zip": "01234", "nan": "nan"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "s" * 257], "The source is 257 characters long; at most 256 are accepted."),
        (["--subject", "x" * 300], "The subject is 300 characters long; at most 256 are accepted."),
        (["--event-type", "T" * 129], "The event type is 129 characters long; at most 128 are accepted."),
        (["--idempotency-key", "k" * 201], "The idempotency key is 201 characters long; at most 200 are accepted."),
        (["--idempotency-key", "k\x01"], "The idempotency key contains a control character (\\u0001)"),
        (["--event-type", ""], "The event type is required."),
        (["--source", ""], "The source is required."),
        (["--subject", "line\nbreak"], "The subject contains a control character (\\u000a)"),
        (["--amount", "nan"], "data.amount: NaN is not a JSON number."),
    ],
)
def test_bad_fields_on_the_command_line_exit_2_with_the_reason(demo_providers, args, message):
    code, output = cli("--provider", "all", *args)
    assert (code, counts()) == (2, (0, 0, 0, 0))
    assert message in output


def test_data_from_a_file_or_stdin_reaches_the_providers_real_limits(demo_providers, tmp_path):
    big = {"blob": "x" * 200_000}  # over argv's 128 KiB, under EventBridge's 256 KB
    path = tmp_path / "event.json"
    path.write_text(json.dumps(big))
    code, output = cli("--provider", "azure", "--provider", "gcp", "--data", f"@{path}", "--sync")
    assert code == 0, output
    assert Event.objects.get().data == big
    code, output = cli("--provider", "azure", "--data", "-", "--sync", stdin=json.dumps({"from": "stdin"}))
    assert code == 0 and Event.objects.filter(data={"from": "stdin"}).exists()
    code, output = cli("--provider", "azure", "--data", f"@{tmp_path / 'missing.json'}")
    assert code == 2 and "cannot read the file (No such file or directory)" in output


def test_over_long_envelope_fields_in_a_bulk_file_are_listed_not_a_500(admin_client, demo_providers):
    lines = [
        json.dumps({"type": "T" * 200, "data": {"n": 1}}),
        json.dumps({"type": "T", "source": 7, "data": {}}),
        json.dumps({"type": "T", "subject": "s" * 400, "data": {}}),
    ]
    response = bulk(admin_client, demo_providers, "\n".join(lines).encode(), "events.jsonl")
    assert response.status_code == 200
    assert [str(e) for e in response.context["errors"]] == [
        "line 1: The event type is 200 characters long; at most 128 are accepted.",
        "line 2: The source must be text, not a number.",
        "line 3: The subject is 400 characters long; at most 256 are accepted.",
    ]
    assert counts() == (0, 0, 0, 0)


def test_the_services_gate_callers_that_skip_the_forms(demo_providers):
    with pytest.raises(PublishRejected) as refused:
        publish_event(event_type="T", source="s", data={"x": float("nan")}, providers=demo_providers)
    assert refused.value.errors == ["data.x: NaN is not a JSON number."]
    with pytest.raises(PublishRejected):
        publish_specs([EventSpec("T", "s", {})], demo_providers, idempotency_key="k\x00")
    assert counts() == (0, 0, 0, 0)


def test_resending_stored_data_that_no_longer_passes_the_gate_is_refused(demo_providers):
    event = publish_event(event_type="T", source="s", data={"ok": 1}, providers=demo_providers[:1])
    Event.objects.filter(pk=event.pk).update(data={"deep": json.loads("[" * 40 + "]" * 40)})
    event.refresh_from_db()
    with pytest.raises(PublishRejected) as refused:
        resend_to(event=event, providers=demo_providers[1:])
    assert "nested more than 32 levels deep" in refused.value.errors[0]
    assert Delivery.objects.count() == 1


def test_a_stored_event_too_deep_to_render_still_has_a_page(admin_client, demo_providers):
    event = publish_event(event_type="T", source="s", data={"ok": 1}, providers=demo_providers[:1])
    Event.objects.filter(pk=event.pk).update(data={"deep": json.loads("[" * 900 + "]" * 900)})
    response = admin_client.get(reverse("admin:events_event_change", args=[event.pk]))
    assert response.status_code == 200
    assert "nested too deeply to show;" in response.content.decode()
    compose_page = admin_client.get(reverse(COMPOSE) + f"?from_event={event.pk}")
    assert compose_page.status_code == 200


def as_decimal_tree(value: Any) -> Any:
    """JSON numbers compared as decimals: PostgreSQL keeps 1e300 as the integer it denotes."""
    if isinstance(value, dict):
        return {k: as_decimal_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_decimal_tree(v) for v in value]
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def received_data(event: Event) -> list[Any]:
    """The event data each provider config receives, decoded from the payload its client sends."""
    found = []
    for delivery in event.deliveries.select_related("provider"):
        body = payload_format(client_settings(delivery.provider)).build(outgoing_event(event)).body
        if "Detail" in body:
            found.append(json.loads(body["Detail"])["data"])
        elif "attributes" in body:
            found.append(json.loads(body["data"]))
        else:
            found.append(json.loads(json.dumps(body["data"])))
    return found


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
hostile_text = st.sampled_from([text for text, _ in HOSTILE])
any_text = st.one_of(
    json_values.map(lambda v: json.dumps({"v": v})),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(json.dumps),
    hostile_text,
    st.text(max_size=60),
)


@GENERATED
@given(text=any_text)
def test_any_typed_text_is_refused_in_words_or_stored_as_every_provider_receives_it(admin_client, demo_providers, text):
    before = counts()
    response = compose(admin_client, demo_providers, text)
    if response.status_code == 200:
        assert response.context["form"].errors and counts() == before
        return
    assert response.status_code == 302
    event = Event.objects.order_by("-created_at").first()
    event.refresh_from_db()
    assert as_decimal_tree(event.data) == as_decimal_tree(json.loads(text))
    assert all(data == event.data for data in received_data(event))


@GENERATED
@given(text=any_text, event_type=st.text(max_size=200), subject=st.text(max_size=300))
def test_the_live_check_answers_every_input_with_json(admin_client, demo_providers, text, event_type, subject):
    fields = {"data": text, "event_type": event_type, "source": "s", "subject": subject}
    response = admin_client.post(reverse(PREVIEW), {**fields, "providers": [p.pk for p in demo_providers]})
    assert response.status_code == 200
    result = response.json()
    assert result["data_error"] or result["envelope_problems"] or len(result["providers"]) == 3


@GENERATED
@given(lines=st.lists(any_text, min_size=1, max_size=4))
def test_any_json_lines_file_is_refused_whole_or_stored_whole(admin_client, demo_providers, lines):
    before = counts()
    response = bulk(admin_client, demo_providers[:1], "\n".join(lines).encode("utf-8", "surrogatepass"), "e.jsonl")
    if response.status_code == 200:  # refused: the lines' problems, or the form's (an empty file)
        assert (response.context.get("errors") or b"errorlist" in response.content) and counts() == before
        return
    assert response.status_code == 302
    upload = BulkUpload.objects.order_by("-pk").first()
    for event in upload.events.all():
        assert all(data == event.data for data in received_data(event))
