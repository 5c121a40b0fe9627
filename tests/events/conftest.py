"""Provider configs with a round-trip receiver, one per cloud."""

import pytest


@pytest.fixture
def grid(make_provider, make_receiver):
    config = make_provider("grid", "azure_eventgrid")
    make_receiver(config)
    return config


@pytest.fixture
def pubsub(make_provider, make_receiver):
    config = make_provider("pubsub", "gcp_pubsub")
    make_receiver(config)
    return config


@pytest.fixture
def bridge(make_provider, make_receiver):
    config = make_provider("bridge", "aws_eventbridge")
    make_receiver(config, auth="api_key", secret_env="TEST_RECEIVER_API_KEY")
    return config
