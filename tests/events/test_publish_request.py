"""One publish request: every way in hands the publish service the same request, and the
service routes, authorises (scope, production grant) and validates it in one order, creating
nothing when any rule refuses."""

import pytest

from events.models import Delivery, Event, Route
from events.services.publishing import EventSpec, PublishRequest, plan, publish
from events.services.validation import PublishRejected, Refusal
from providers.production import NO_GRANT, ProductionGrant


def order(**fields) -> EventSpec:
    return EventSpec(**{"event_type": "OrderPlaced", "source": "com.shop", "data": {"n": 1}, **fields})


@pytest.fixture
def prod(production, make_provider):
    """A config whose effective mode is production (the deployment allows it, credentials set)."""
    return make_provider("grid-prod", "azure_eventgrid", mode="production", credentials_env_prefix="TEST_")


def refusal(request: PublishRequest) -> PublishRejected:
    with pytest.raises(PublishRejected) as refused:
        publish(request)
    assert (Event.objects.count(), Delivery.objects.count()) == (0, 0)
    return refused.value


def test_named_configs_else_the_routes_decide(demo_providers):
    aws, gcp, _ = demo_providers
    route = Route.objects.create(name="orders", filter={"prefix": {"type": "Order"}})
    route.providers.set([gcp])
    [named] = publish(PublishRequest(events=[order(providers=(aws,))]))
    [routed] = publish(PublishRequest(events=[order()]))
    assert [d.provider for d in named.event.deliveries.all()] == [aws]
    assert [(d.provider, d.route) for d in routed.event.deliveries.all()] == [(gcp, route)]


def test_the_rules_refuse_in_one_order_unrouted_scope_production_then_the_events(demo_providers, prod):
    aws = demo_providers[0]
    both = (aws, prod)
    bad = order(providers=both, data=[1])
    assert refusal(PublishRequest(events=[bad, order(event_type="Refund")])).refusal == Refusal.UNROUTED
    outside = refusal(PublishRequest(events=[bad], scope=frozenset({aws.pk}), publisher="The API key k"))
    assert (outside.refusal, outside.errors) == (Refusal.OUT_OF_SCOPE, ["The API key k may not publish to: grid-prod."])
    production = refusal(PublishRequest(events=[bad]))
    assert (production.refusal, production.production_names) == (Refusal.PRODUCTION, "grid-prod")
    invalid = refusal(PublishRequest(events=[bad], grant=ProductionGrant.typed("grid-prod")))
    assert invalid.refusal == Refusal.INVALID and "must be a JSON object" in invalid.errors[0]


@pytest.mark.parametrize(
    ("grant", "allowed"),
    [
        (NO_GRANT, False),
        (ProductionGrant.typed("grid-pro"), False),
        (ProductionGrant.typed(" grid-prod "), True),
        (ProductionGrant.standing("the API key k", held=False), False),
        (ProductionGrant.standing("the API key k", held=True), True),
    ],
)
def test_production_needs_a_typed_confirmation_or_a_standing_grant(prod, grant, allowed):
    request = PublishRequest(events=[order(providers=(prod,))], grant=grant)
    if allowed:
        assert len(plan(request)) == 1
    else:
        assert refusal(request).refusal == Refusal.PRODUCTION


def test_a_standing_grant_not_held_is_refused_in_its_holders_name(prod):
    refused = refusal(
        PublishRequest(events=[order(providers=(prod,))], grant=ProductionGrant.standing("the API key k", held=False))
    )
    assert refused.errors == ["grid-prod: in production, and the API key k may not send to production."]


def test_events_are_grouped_by_where_they_go_and_answered_in_request_order(demo_providers):
    aws, gcp, _ = demo_providers
    specs = [
        order(providers=(aws,), data={"n": n}) if n % 2 else order(providers=(gcp,), data={"n": n}) for n in range(5)
    ]
    groups = plan(PublishRequest(events=specs))
    assert sorted(group.indexes for group in groups) == [[0, 2, 4], [1, 3]]
    published = publish(PublishRequest(events=specs))
    assert [p.event.data["n"] for p in published] == [0, 1, 2, 3, 4]
    assert Delivery.objects.filter(provider=aws).count() == 2


def test_an_idempotency_key_names_one_event(demo_providers):
    aws = demo_providers[0]
    refused = refusal(PublishRequest(events=[order(providers=(aws,))] * 2, idempotency_key="k"))
    assert refused.errors == ["An idempotency key names one event; this request has 2."]
    [first] = publish(PublishRequest(events=[order(providers=(aws,))], idempotency_key="k"))
    [again] = publish(PublishRequest(events=[order(providers=(aws,), data={"n": 2})], idempotency_key="k"))
    assert (again.event.pk, again.reused, first.reused) == (first.event.pk, True, False)
