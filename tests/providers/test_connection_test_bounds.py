""" "Test the real cloud" against an endpoint that answers a byte at a time: no read timeout ever
trips, yet clicks do not pile up threads and sockets, and everything is released once it ends."""

import threading
import time

import pytest

from providers import checks
from providers.checks import check_cloud
from providers.models import ProviderConfig
from tests.standins import TricklingEndpoint


@pytest.fixture
def trickling():
    endpoint = TricklingEndpoint()
    yield endpoint
    endpoint.stop()


def helper_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("helios-check"))


def test_ten_clicks_hold_at_most_two_threads_and_sockets_and_all_are_released(db, settings, trickling, monkeypatch):
    settings.HELIOS_PROVIDER_TIMEOUT_SECONDS = 0.3
    monkeypatch.setenv("SLOW_EVENTGRID_ACCESS_KEY", "a-key")
    configs = [
        ProviderConfig.objects.create(
            name=f"slow-{n}",
            kind="azure_eventgrid",
            azure_endpoint=f"http://127.0.0.1:{trickling.port}/api/events",
            credentials_env_prefix="SLOW_",
        )
        for n in range(3)
    ]
    messages = [check_cloud(configs[n % 3]).message for n in range(10)]
    assert messages[0].startswith("TIMEOUT: no answer from the cloud")
    assert any("An earlier test of this config is still waiting" in m for m in messages)
    assert any("2 connection tests are still waiting for slow endpoints" in m for m in messages)
    assert helper_threads() <= checks.CHECK_SLOTS
    assert len(trickling.open) <= checks.CHECK_SLOTS

    trickling.stop()  # the endpoint ends its answers: the SDK calls end, and with them the threads
    deadline = time.monotonic() + 30
    while (helper_threads() or trickling.open) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (helper_threads(), len(trickling.open)) == (0, 0)
    assert "still waiting" not in check_cloud(configs[0]).message  # the slots are free again: a real test runs
