"""Routes: the CloudEvents Subscriptions filter dialects, and events that name no provider config
sent where the routes say, the route recorded on each delivery."""

import json

import pytest

from events.models import Route
from events.route_filters import filter_problems, matches

EVENT = {
    "type": "OrderPlaced",
    "source": "com.example.shop",
    "subject": "orders/o-1",
    "data": {"country": "DE", "amount": 12.5, "paid": True, "lines": [{"sku": "A-1"}]},
}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({}, True),
        ({"exact": {"type": "OrderPlaced"}}, True),
        ({"exact": {"type": "orderplaced"}}, False),  # exact is exact
        ({"prefix": {"subject": "orders/"}}, True),
        ({"suffix": {"source": ".shop"}}, True),
        ({"exact": {"data.country": "DE", "data.amount": "12.5", "data.paid": "true"}}, True),
        ({"exact": {"data.lines.0.sku": "A-1"}}, True),
        ({"exact": {"data.missing": "x"}}, False),
        ({"not": {"exact": {"data.missing": "x"}}}, True),
        ({"all": [{"prefix": {"type": "Order"}}, {"exact": {"data.country": "FR"}}]}, False),
        ({"any": [{"prefix": {"type": "Payment"}}, {"exact": {"data.country": "DE"}}]}, True),
        ({"exact": {"subject": ""}}, False),
    ],
)
def test_the_filter_dialects(rule, expected):
    assert filter_problems(rule) == []
    assert matches(rule, EVENT) is expected


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ([], "a filter is a JSON object"),
        ({"exact": {"type": "x"}, "prefix": {"type": "y"}}, "use exactly one of"),
        ({"regex": {"type": ".*"}}, "use exactly one of"),
        ({"exact": {"colour": "red"}}, "unknown attribute 'colour'"),
        ({"exact": {"data.amount": 12.5}}, "compare with text"),
        ({"all": []}, "a non-empty list of filters"),
        ({"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {}}}}}}}}}}, "nested more than 8"),
    ],
)
def test_a_bad_filter_is_refused_in_words(rule, problem):
    assert problem in " ".join(filter_problems(rule))


@pytest.mark.django_db
def test_a_route_with_a_bad_filter_cannot_be_saved(demo_providers):
    from django.core.exceptions import ValidationError

    route = Route(name="bad", filter={"exact": {"colour": "red"}})
    with pytest.raises(ValidationError) as error:
        route.full_clean()
    assert "unknown attribute 'colour'" in str(error.value)


@pytest.mark.django_db
def test_the_test_routes_page_says_where_an_event_would_go_and_why(admin_client, demo_providers):
    from django.urls import reverse

    by_name = {c.name: c for c in demo_providers}
    orders = Route.objects.create(name="orders", position=1, filter={"prefix": {"type": "Order"}})
    orders.providers.set([by_name["aws-demo"]])
    refunds = Route.objects.create(name="refunds", position=2, filter={"exact": {"type": "RefundIssued"}})
    refunds.providers.set([by_name["gcp-demo"]])
    page = admin_client.post(reverse("admin:events_route_test"), {"event": json.dumps(EVENT)}).content.decode()
    assert "It would go to 1 provider config:" in page and "<strong>aws-demo</strong> (route orders)" in page
    assert '<tr data-route="orders" data-matched="true">' in page
    assert '<tr data-route="refunds" data-matched="false">' in page
    nothing = admin_client.post(reverse("admin:events_route_test"), {"event": '{"type": "Other", "data": {}}'})
    assert "No route matches" in nothing.content.decode()
    bad = admin_client.post(reverse("admin:events_route_test"), {"event": '{"type": NaN}'}).content.decode()
    assert "NaN is not a JSON number" in bad
    listing = admin_client.get(reverse("admin:events_route_changelist")).content.decode()
    assert 'id="helios-test-routes"' in listing


@pytest.mark.django_db
def test_compose_without_a_ticked_provider_lets_the_routes_decide(admin_client, demo_providers):
    from django.urls import reverse

    from events.models import Delivery

    gcp = next(c for c in demo_providers if c.name == "gcp-demo")
    route = Route.objects.create(name="orders", filter={"prefix": {"type": "Order"}})
    route.providers.set([gcp])
    form = {"event_type": "OrderPlaced", "source": "com.test", "subject": "", "data": '{"n": 1}'}
    response = admin_client.post(reverse("admin:events_event_compose"), form)
    assert response.status_code == 302
    assert list(Delivery.objects.values_list("provider__name", "route__name")) == [("gcp-demo", "orders")]
    refused = admin_client.post(reverse("admin:events_event_compose"), {**form, "event_type": "Refund"})
    assert "Choose at least one provider: no route matches this event." in refused.content.decode()
    assert Delivery.objects.count() == 1
