"""Provider config validation per kind, effective mode, first-run bootstrap, start-up log."""

import json
import logging

import pytest
from django.core.exceptions import ValidationError

from providers.models import ProviderConfig
from providers.modes import effective_mode
from providers.startup import bootstrap_demo_providers, log_effective_modes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "fields", "bad_field"),
    [
        ("aws_eventbridge", {"aws_region": "Ireland", "aws_source": "com.x"}, "aws_region"),
        ("aws_eventbridge", {"aws_region": "eu-west-1", "aws_source": ""}, "aws_source"),
        ("aws_eventbridge", {"aws_region": "eu-west-1", "aws_source": "aws.s3"}, "aws_source"),
        (
            "aws_eventbridge",
            {"aws_region": "eu-west-1", "aws_source": "x", "aws_event_bus": "bad bus"},
            "aws_event_bus",
        ),
        ("gcp_pubsub", {"gcp_project": "P", "gcp_topic": "orders"}, "gcp_project"),
        ("gcp_pubsub", {"gcp_project": "helios-test", "gcp_topic": "goog-x"}, "gcp_topic"),
        (
            "gcp_pubsub",
            {"gcp_project": "helios-test", "gcp_topic": "orders", "gcp_emulator_host": "http://127.0.0.1"},
            "gcp_emulator_host",
        ),
        ("azure_eventgrid", {"azure_endpoint": "http://topic.example.com/api/events"}, "azure_endpoint"),
        ("azure_eventgrid", {"azure_endpoint": ""}, "azure_endpoint"),
    ],
)
def test_kind_options_are_validated_with_field_errors(kind, fields, bad_field):
    config = ProviderConfig(name="p", kind=kind, **fields)
    with pytest.raises(ValidationError) as error:
        config.full_clean()
    assert bad_field in error.value.message_dict


def test_options_of_other_kinds_are_cleared():
    config = ProviderConfig(
        name="g", kind="gcp_pubsub", gcp_project="helios-test", gcp_topic="orders", aws_source="left.over"
    )
    config.full_clean()
    assert config.aws_source == ""
    assert config.options() == {
        "project": "helios-test",
        "topic": "orders",
        "emulator_host": "",
        "ordering_by_subject": False,
    }


def test_local_http_endpoint_is_allowed_for_stand_ins(make_provider):
    config = make_provider("az", "azure_eventgrid", azure_endpoint="http://127.0.0.1:8765/api/events")
    assert config.options()["endpoint"] == "http://127.0.0.1:8765/api/events"


def test_production_stays_demo_while_the_deployment_does_not_allow_it(make_provider):
    config = make_provider("aws-prod", "aws_eventbridge", mode="production")
    mode = effective_mode(config)
    assert mode.mode == "demo"
    assert not mode.is_production
    assert "this deployment does not allow production (HELIOS_DEPLOYMENT_MODE=demo)" in mode.reason


def test_first_run_creates_one_demo_config_per_kind_then_nothing():
    created = bootstrap_demo_providers()
    assert sorted(c.kind for c in created) == ["aws_eventbridge", "azure_eventgrid", "gcp_pubsub"]
    assert {c.mode for c in created} == {"demo"}
    assert bootstrap_demo_providers() == []
    assert ProviderConfig.objects.count() == 3


def test_first_run_does_nothing_when_a_config_exists(make_provider):
    make_provider("mine", "gcp_pubsub")
    assert bootstrap_demo_providers() == []
    assert list(ProviderConfig.objects.values_list("name", flat=True)) == ["mine"]


def test_start_up_logs_one_json_line_per_provider(demo_providers, caplog):
    with caplog.at_level(logging.INFO, logger="helios.json"):
        log_effective_modes(process="web")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "helios.json"]
    assert [line["provider"] for line in lines] == ["aws-demo", "azure-demo", "gcp-demo"]
    for line in lines:
        assert line["event"] == "provider_mode"
        assert line["mode"] == "demo"
        assert line["process"] == "web"
        assert line["reason"]
