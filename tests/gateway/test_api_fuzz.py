"""Generated requests never get a 500 from the API, and only a 202 creates anything."""

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Event

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
envelopes = st.fixed_dictionaries(
    {"type": st.text(max_size=20) | json_values, "source": st.text(max_size=20), "data": json_values},
    optional={"subject": st.text(max_size=20), "providers": st.lists(st.sampled_from(["aws-demo", "gcp-demo", "x"]))},
)
bodies = (
    envelopes.map(json.dumps)
    | st.lists(envelopes, max_size=3).map(json.dumps)
    | st.binary(max_size=200)
    | json_values.map(json.dumps)
)
content_types = st.sampled_from(
    ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json", "text/plain", ""]
)
ce_headers = st.dictionaries(
    st.sampled_from(["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-heliosproviders"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    max_size=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=content_types, headers=ce_headers)
def test_any_request_is_answered_in_words(api_post, make_key, demo_providers, body, content_type, headers):
    secret = make_key(name=f"k-{uuid.uuid4().hex[:12]}", providers=demo_providers[:2]).secret
    before = Event.objects.count()
    response = api_post(secret, body, content_type, **headers)
    assert response.status_code in (202, 400, 403, 409, 413, 422), response.content
    if response.status_code == 202:
        assert Event.objects.count() >= before
    else:
        assert response.json()["errors"] and Event.objects.count() == before
