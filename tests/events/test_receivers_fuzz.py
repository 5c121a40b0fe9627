"""Property-based fuzzing of every receiver: thousands of generated bodies and headers, and not
one 500 (nor a 503, which would mean an unexpected error was caught)."""

import base64
import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import RECEIVER_API_KEY, RECEIVER_TOKEN

pytestmark = pytest.mark.django_db

EXPECTED = {200, 204, 400, 401, 403, 405, 413}
FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
headers = st.dictionaries(
    st.sampled_from(
        [
            "Content-Type",
            "Authorization",
            "x-api-key",
            "ce-id",
            "ce-subject",
            "ce-source",
            "WebHook-Request-Origin",
            "aeg-subscription-name",
        ]
    ),
    header_text,
    max_size=4,
)


def maybe(value: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(value, json_values)


eventgrid_events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": maybe(st.uuids().map(str)),
            "eventType": maybe(st.sampled_from(["OrderPlaced", "Microsoft.EventGrid.SubscriptionValidationEvent"])),
            "specversion": maybe(st.just("1.0")),
            "subject": json_values,
            "topic": json_values,
            "source": json_values,
            "data": maybe(st.fixed_dictionaries({}, optional={"validationCode": json_values})),
        },
    )
    | json_values,
    max_size=4,
)
pubsub_envelopes = st.fixed_dictionaries(
    {},
    optional={
        "message": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "messageId": maybe(st.text(max_size=12)),
                    "data": maybe(st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())),
                    "attributes": maybe(st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3)),
                    "orderingKey": json_values,
                },
            )
        ),
        "subscription": json_values,
    },
)
eventbridge_events = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe(st.uuids().map(str)),
        "source": json_values,
        "detail": maybe(
            st.fixed_dictionaries(
                {}, optional={"metadata": maybe(st.fixed_dictionaries({}, optional={"event_id": json_values}))}
            )
        ),
    },
)


def bodies(shaped: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.binary(max_size=300), json_values.map(json.dumps), shaped.map(json.dumps)).map(
        lambda b: b if isinstance(b, bytes) else b.encode()
    )


def send(client, path: str, method: str, body: bytes, extra: dict[str, str], credentials: dict[str, str]):
    content_type = extra.pop("Content-Type", "application/json")
    call = getattr(client, method)
    kwargs = {"headers": {**extra, **credentials}}
    if method != "get":
        kwargs.update(data=body, content_type=content_type)
    response = call(path, **kwargs)
    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics shows how far bodies got
    return response


@pytest.fixture
def receivers(make_provider, make_receiver):
    grid, pubsub, bridge = (
        make_provider("grid", "azure_eventgrid"),
        make_provider("pubsub", "gcp_pubsub"),
        make_provider("bridge", "aws_eventbridge"),
    )
    make_receiver(grid)
    make_receiver(pubsub)
    make_receiver(bridge, auth="api_key", secret_env="TEST_RECEIVER_API_KEY")
    return {"eventgrid": grid, "pubsub": pubsub, "eventbridge": bridge}


methods = st.sampled_from(["post"] * 6 + ["options", "get", "put"])
tokens = st.sampled_from([RECEIVER_TOKEN, "", "wrong-token"])


@FUZZ
@given(method=methods, body=bodies(eventgrid_events), extra=headers, token=tokens)
def test_eventgrid_receiver_never_fails(client, receivers, method, body, extra, token):
    path = reverse("receive_eventgrid", args=[receivers["eventgrid"].pk]) + (f"?token={token}" if token else "")
    assert send(client, path, method, body, dict(extra), {}).status_code in EXPECTED


@FUZZ
@given(method=methods, body=bodies(pubsub_envelopes), extra=headers, token=tokens)
def test_pubsub_receiver_never_fails(client, receivers, method, body, extra, token):
    path = reverse("receive_pubsub", args=[receivers["pubsub"].pk]) + (f"?token={token}" if token else "")
    assert send(client, path, method, body, dict(extra), {}).status_code in EXPECTED


@FUZZ
@given(method=methods, body=bodies(eventbridge_events), extra=headers, key=st.sampled_from([RECEIVER_API_KEY, "x"]))
def test_eventbridge_receiver_never_fails(client, receivers, method, body, extra, key):
    path = reverse("receive_eventbridge", args=[receivers["eventbridge"].pk])
    assert send(client, path, method, body, dict(extra), {"x-api-key": key}).status_code in EXPECTED
