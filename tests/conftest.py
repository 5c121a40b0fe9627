"""Shared fixtures: provider configs, synchronous tasks, a real qcluster worker."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from providers.models import ProviderConfig
from providers.services import bootstrap_demo_providers, close_clients

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Clients are cached per process; no test sees another test's client."""
    yield
    close_clients()


@pytest.fixture
def sync_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run django-q2 tasks in-process (override_settings does not reach django-q2's Conf)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def demo_providers(db: None) -> list[ProviderConfig]:
    """The three first-run demo configs, with no simulated latency."""
    configs = bootstrap_demo_providers()
    ProviderConfig.objects.update(demo_latency_ms=0)
    for config in configs:
        config.refresh_from_db()
    return configs


@pytest.fixture
def make_provider(db: None) -> Callable[..., ProviderConfig]:
    """Create a validated provider config of a kind, with sensible options."""
    defaults = {
        "aws_eventbridge": {"aws_region": "eu-west-1", "aws_event_bus": "default", "aws_source": "com.test.orders"},
        "gcp_pubsub": {"gcp_project": "helios-test", "gcp_topic": "orders"},
        "azure_eventgrid": {"azure_endpoint": "https://t.westeurope-1.eventgrid.azure.net/api/events"},
    }

    def make(name: str, kind: str, **fields: object) -> ProviderConfig:
        config = ProviderConfig(name=name, kind=kind, demo_latency_ms=0, **{**defaults[kind], **fields})
        config.full_clean()
        config.save()
        return config

    return make


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that reaches the test database this test session created."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    port = db.get("PORT") or 5432
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{port}/{db['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a manage.py child process on the test database."""
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


@pytest.fixture
def qcluster(transactional_db: None, tmp_path: Path) -> Iterator[Path]:
    """A real `manage.py qcluster` process on the test database; yields its log file."""
    log_path = tmp_path / "qcluster.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "manage.py"), "qcluster"],
            cwd=PROJECT_ROOT,
            env=subprocess_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for_text(log_path, "ready for work", process, timeout=30)
            yield log_path
        finally:
            process.terminate()  # the cluster stops its own workers
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_for_text(path: Path, text: str, process: subprocess.Popen, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return
        if process.poll() is not None:
            raise RuntimeError(f"qcluster exited early:\n{path.read_text()}")
        time.sleep(0.1)
    raise RuntimeError(f"qcluster not ready after {timeout}s:\n{path.read_text()}")
