"""The front door's per-process catalog (configs, routes, key scopes): read once while nothing
changes, and replaced on the very next request after any change, however it was written."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import Route
from gateway.models import CatalogStamp
from providers.models import ProviderConfig

pytestmark = pytest.mark.django_db
ENVELOPE = {"type": "OrderPlaced", "source": "com.example.orders", "data": {"order_id": "o-1"}}
CATALOG_TABLES = ("providers_providerconfig", "events_route", "gateway_apikey_providers")


def stamp() -> str:
    return CatalogStamp.objects.get(pk=1).token


@pytest.fixture
def aws(demo_providers) -> ProviderConfig:
    return next(c for c in demo_providers if c.name == "aws-demo")


def test_every_way_of_writing_a_config_route_or_scope_renews_the_stamp(make_key, aws):
    key = make_key(providers=[aws])
    route = Route.objects.create(name="orders", filter={})
    writes = [
        lambda: ProviderConfig.objects.filter(pk=aws.pk).update(mode="production"),  # no signal is sent
        lambda: Route.objects.filter(pk=route.pk).update(enabled=False),
        lambda: route.providers.add(aws),
        lambda: key.key.providers.remove(aws),
        lambda: connection.cursor().execute("DELETE FROM events_route_providers"),
        lambda: Route.objects.filter(pk=route.pk).delete(),
    ]
    for write in writes:
        before = stamp()
        write()
        assert stamp() != before, writes.index(write)


def test_a_repeated_request_reads_no_config_route_or_scope(api_post, make_key, aws):
    key = make_key(providers=[aws])
    body = {**ENVELOPE, "providers": ["aws-demo"]}
    assert api_post(key.secret, body).status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert api_post(key.secret, body).status_code == 202
    read = [q["sql"] for q in queries if any(f'"{table}"' in q["sql"] for table in CATALOG_TABLES)]
    assert read == []


def test_a_scope_taken_away_is_refused_on_the_next_request(api_post, make_key, aws):
    key = make_key(providers=[aws])
    body = {**ENVELOPE, "providers": ["aws-demo"]}
    assert api_post(key.secret, body).status_code == 202
    key.key.providers.clear()
    refused = api_post(key.secret, body)
    assert refused.status_code == 403
    assert "may not publish to: aws-demo" in refused.json()["errors"][0]


def test_a_route_added_or_disabled_applies_to_the_next_request(api_post, make_key, aws):
    key = make_key(providers=[aws])
    assert api_post(key.secret, ENVELOPE).status_code == 422  # no route yet
    route = Route.objects.create(name="orders", filter={"prefix": {"type": "Order"}})
    route.providers.add(aws)
    assert api_post(key.secret, ENVELOPE).status_code == 202
    Route.objects.filter(pk=route.pk).update(enabled=False)  # as a script or SQL would
    assert api_post(key.secret, ENVELOPE).status_code == 422


def test_a_config_renamed_in_the_database_is_known_by_its_new_name_at_once(api_post, make_key, aws):
    key = make_key(providers=[aws])
    assert api_post(key.secret, {**ENVELOPE, "providers": ["aws-demo"]}).status_code == 202
    ProviderConfig.objects.filter(pk=aws.pk).update(name="aws-orders")
    assert api_post(key.secret, {**ENVELOPE, "providers": ["aws-orders"]}).status_code == 202
    assert api_post(key.secret, {**ENVELOPE, "providers": ["aws-demo"]}).status_code == 403


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite drops triggers on table rebuilds; PostgreSQL does not"
)
def test_triggers_a_table_rebuild_dropped_are_made_again_after_migrate(aws):
    """A migration that rebuilds providers_providerconfig on SQLite (a new kind's option columns)
    drops its triggers; the post-migrate hook makes them again."""
    from gateway.catalog_triggers import ensure_sqlite_triggers

    with connection.cursor() as cursor:
        for operation in ("insert", "update", "delete"):
            cursor.execute(f"DROP TRIGGER helios_catalog_stamp_providers_providerconfig_{operation}")
    before = stamp()
    ProviderConfig.objects.filter(pk=aws.pk).update(enabled=False)
    assert stamp() == before  # the hole a rebuild leaves

    ensure_sqlite_triggers(using="default")
    ProviderConfig.objects.filter(pk=aws.pk).update(enabled=True)
    assert stamp() != before
