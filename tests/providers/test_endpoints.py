"""Credentials go only to the clouds' own hosts, or to hosts the deployment names; link-local and
metadata addresses never (issue: an Admin could aim a config, and its credentials, anywhere)."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from providers.checks import check_cloud
from providers.endpoints import Endpoint, endpoint_problem
from providers.kinds.aws_eventbridge import AWS_HOST_SUFFIXES
from providers.kinds.azure_eventgrid import EVENTGRID_HOST_SUFFIXES
from providers.models import ProviderConfig, ReceiverSettings, RoundTripMethod
from providers.modes import effective_mode
from tests.conftest import EVENTGRID_TEST_KEY

EVENT_GRID = Endpoint("azure_endpoint", cloud_suffixes=EVENTGRID_HOST_SUFFIXES)
AWS = Endpoint("aws_endpoint_url", cloud_suffixes=AWS_HOST_SUFFIXES)
EMULATOR = Endpoint("gcp_emulator_host", host_only=True)


@pytest.fixture
def nothing_allowed(settings):
    settings.HELIOS_ALLOWED_ENDPOINTS = []


def test_a_config_aimed_at_a_host_the_deployment_did_not_allow_is_refused_when_saved(nothing_allowed, db):
    config = ProviderConfig(
        name="orders",
        kind="azure_eventgrid",
        azure_endpoint="http://127.0.0.1:8896/api/events",
        credentials_env_prefix="ORDERS_",
    )
    with pytest.raises(ValidationError) as refused:
        config.full_clean()
    words = refused.value.message_dict["azure_endpoint"][0]
    assert "127.0.0.1 is not an endpoint HELIOS may send to" in words and "HELIOS_ALLOWED_ENDPOINTS" in words
    config.azure_endpoint = "https://attacker.example.net/api/events"  # any https host used to pass
    with pytest.raises(ValidationError, match=r"attacker\.example\.net is not an endpoint"):
        config.full_clean()


def test_test_the_real_cloud_never_sends_the_key_to_a_host_saved_before_the_rules(
    nothing_allowed, db, eventgrid_sink, monkeypatch
):
    """The reproduction: a demo config with ORDERS_ credentials aimed at a listening sink."""
    monkeypatch.setenv("ORDERS_EVENTGRID_ACCESS_KEY", EVENTGRID_TEST_KEY)
    config = ProviderConfig.objects.create(
        name="orders", kind="azure_eventgrid", azure_endpoint=eventgrid_sink.endpoint, credentials_env_prefix="ORDERS_"
    )  # saved without the form's checks, as a row from before this rule would be
    check = check_cloud(config)
    assert not check.ok and check.message.startswith("not tested: orders: its topic endpoint is refused")
    assert eventgrid_sink.requests == []


def test_a_production_config_whose_endpoint_is_refused_stays_in_demo_and_says_why(nothing_allowed, db, production):
    config = ProviderConfig.objects.create(
        name="aws-x",
        kind="aws_eventbridge",
        mode="production",
        aws_region="eu-west-1",
        aws_source="com.x",
        aws_endpoint_url="http://10.1.2.3:4566",
        credentials_env_prefix="TEST_",
    )
    mode = effective_mode(config)
    assert mode.mode == "demo" and "its endpoint URL override is refused: 10.1.2.3 is not an endpoint" in mode.reason


@pytest.mark.parametrize(
    ("endpoint", "value"),
    [
        (EVENT_GRID, "https://orders.westeurope-1.eventgrid.azure.net/api/events"),
        (EVENT_GRID, "https://ns.eastus-1.eventgrid.azure.net"),  # a namespace (pull)
        (EVENT_GRID, "https://orders.usgovvirginia-1.eventgrid.azure.us/api/events"),
        (AWS, ""),  # empty: AWS's regional endpoint
        (AWS, "https://events.eu-west-1.amazonaws.com"),
        (AWS, "https://vpce-0a1b-xyz.events.eu-west-1.vpce.amazonaws.com"),
        (EMULATOR, ""),
    ],
)
def test_the_clouds_own_hosts_are_accepted(nothing_allowed, endpoint, value):
    assert endpoint_problem(endpoint, value) == ""


@pytest.mark.parametrize(
    ("endpoint", "value", "words"),
    [
        (EVENT_GRID, "http://orders.westeurope-1.eventgrid.azure.net/api/events", "https only"),
        (EVENT_GRID, "https://eventgrid.azure.net.attacker.io/api", "is not an endpoint"),
        (EVENT_GRID, "https://xeventgrid.azure.net/api", "is not an endpoint"),
        (AWS, "https://amazonaws.com.attacker.io", "is not an endpoint"),
        (AWS, "http://localstack:4566", "is not an endpoint"),
        (EMULATOR, "127.0.0.1:8085", "is not an endpoint"),
        (EMULATOR, "pubsub.googleapis.com:443", "is not an endpoint"),
    ],
)
def test_anything_else_is_refused_in_words(nothing_allowed, endpoint, value, words):
    assert words in endpoint_problem(endpoint, value)


@pytest.mark.parametrize(
    "value",
    [
        "http://169.254.169.254/latest/api/token",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://100.100.100.200/",
        "http://0.0.0.0:80/",
    ],
)
def test_link_local_and_metadata_addresses_are_refused_even_when_the_deployment_allows_them(settings, value):
    settings.HELIOS_ALLOWED_ENDPOINTS = ["169.254.0.0/16", "fe80::/10", "0.0.0.0/0", "::/0", "metadata.google.internal"]
    assert "link-local or cloud metadata address" in endpoint_problem(AWS, value)


def test_the_deployment_names_its_stand_ins_by_host_port_suffix_or_range(settings):
    settings.HELIOS_ALLOWED_ENDPOINTS = ["localstack:4566", "*.internal.example", "10.20.0.0/16", "[::1]"]
    assert endpoint_problem(AWS, "http://localstack:4566") == ""
    assert "not an endpoint" in endpoint_problem(AWS, "http://localstack:4567")  # another port
    assert endpoint_problem(EVENT_GRID, "https://grid.internal.example/api/events") == ""
    assert endpoint_problem(EMULATOR, "10.20.3.4:8085") == ""
    assert "not an endpoint" in endpoint_problem(EMULATOR, "10.21.3.4:8085")
    assert endpoint_problem(EMULATOR, "[::1]:8085") == ""


def test_a_pull_namespace_endpoint_obeys_the_same_rules(nothing_allowed, make_provider):
    config = make_provider("grid", "azure_eventgrid")
    receiver = ReceiverSettings(
        provider=config,
        method=RoundTripMethod.PULL,
        pull_namespace_endpoint="https://evil.example.org",
        pull_namespace_topic="orders",
        pull_subscription="helios",
    )
    with pytest.raises(ValidationError) as refused:
        receiver.clean()
    assert "evil.example.org is not an endpoint" in refused.value.message_dict["pull_namespace_endpoint"][0]


@hypothesis_settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.text(max_size=80), st.from_regex(r"https?://[a-z0-9.\-\[\]:%@]{0,40}(/.*)?", fullmatch=True)))
def test_any_value_gets_words_or_passes_only_as_a_cloud_host(value):
    """Generated values: never an exception; accepted only when https to the cloud's own hosts."""
    from django.test import override_settings

    with override_settings(HELIOS_ALLOWED_ENDPOINTS=[]):
        problem = endpoint_problem(EVENT_GRID, value)
    if not value:
        assert problem == ""
    elif problem == "":
        assert value.lower().startswith("https://")
        assert any(suffix in value.lower() for suffix in EVENTGRID_HOST_SUFFIXES)
