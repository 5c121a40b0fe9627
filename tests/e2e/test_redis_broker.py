"""The optional Redis broker: publish rings after commit, a real worker sends."""

import socket
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, subprocess_env

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
REDIS = {"Q_BROKER": "redis", "REDIS_URL": "redis://127.0.0.1:6379/5"}


def redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not redis_running(), reason="no Redis on 127.0.0.1:6379 (.ci/run starts one)")
def test_publish_wait_through_the_redis_broker(demo_providers, start_qcluster):
    start_qcluster(**REDIS)
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "manage.py"), "publish", "--provider", "all", "--wait", "--timeout", "30"],
        cwd=PROJECT_ROOT,
        env=subprocess_env(**REDIS),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 deliveries: 3 succeeded" in result.stdout
