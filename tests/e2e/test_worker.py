"""A real qcluster process (not sync mode) delivers what the services queue."""

import json
import re
import subprocess
import sys

import pytest

from events.models import Event
from events.selectors import wait_until_final
from tests.conftest import PROJECT_ROOT, subprocess_env
from tests.publishing import publish_event

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_real_worker_delivers_to_all_three_demo_providers(demo_providers, qcluster):
    """(The worker logs in the terminal's plain format: one line per event, fields as key=value.)"""
    events = [
        publish_event(event_type="OrderPlaced", source="com.test", data={"n": n}, providers=demo_providers)
        for n in range(5)
    ]
    for event in events:
        assert wait_until_final(event, timeout_seconds=30), "worker did not finish in 30 s"
    for event in events:
        statuses = sorted(event.deliveries.values_list("status", "attempts"))
        assert statuses == [("succeeded", 1)] * 3
    log = qcluster.read_text()
    assert "events.tasks.send_due_deliveries" in log
    modes = [
        dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line.split("provider_mode: ", 1)[1]))
        for line in log.splitlines()
        if " provider_mode: " in line
    ]
    modes = [{key: json.loads(value) for key, value in mode.items()} for mode in modes]
    assert {m["provider"] for m in modes} == {"aws-demo", "gcp-demo", "azure-demo"}
    assert all(m["process"].startswith("worker:") and m["mode"] == "demo" for m in modes)
    assert not [line for line in log.splitlines() if line.startswith("{")]  # no JSON amid the plain lines


def test_publish_command_with_wait_against_a_real_worker(demo_providers, qcluster):
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "manage.py"), "publish", "--provider", "all", "--wait", "--timeout", "30"],
        cwd=PROJECT_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS  message id") == 3
    assert "3 deliveries: 3 succeeded" in result.stdout
    assert Event.objects.count() == 1
    assert "Enqueued" not in result.stderr  # the terminal carries the command's report, not django-q's
