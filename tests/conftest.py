"""Shared fixtures: provider configs, synchronous tasks, a real qcluster worker."""

import importlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from providers.live_clients import close_clients
from providers.models import ProviderConfig
from providers.startup import bootstrap_demo_providers
from tests.oidc_issuer import OidcIssuer
from tests.standins import EventGridSink, MotoServer, PubSubStandIn, WebhookEndpoint

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
    """The first-run demo configs (one per kind), with no simulated latency."""
    configs = bootstrap_demo_providers()
    ProviderConfig.objects.update(demo_latency_ms=0)
    for config in configs:
        config.refresh_from_db()
    return configs


@pytest.fixture
def starter_templates(db: None) -> None:
    """The starter event templates: made by a data migration, which a transactional test's
    flush removes, so tests that need them ask for them."""
    from events.models import EventTemplate

    starters = importlib.import_module("events.migrations.0006_starter_templates").STARTERS
    for starter in starters:
        EventTemplate.objects.get_or_create(name=starter["name"], defaults=starter)


@pytest.fixture
def make_provider(db: None) -> Callable[..., ProviderConfig]:
    """Create a validated provider config of a kind, with sensible options."""
    defaults = {
        "aws_eventbridge": {"aws_region": "eu-west-1", "aws_event_bus": "default", "aws_source": "com.test.orders"},
        "gcp_pubsub": {"gcp_project": "helios-test", "gcp_topic": "orders"},
        "azure_eventgrid": {"azure_endpoint": "https://t.westeurope-1.eventgrid.azure.net/api/events"},
        "cloudevents_http": {"webhook_url": "https://events.example.com/cloudevents"},
    }

    def make(name: str, kind: str, **fields: object) -> ProviderConfig:
        config = ProviderConfig(name=name, kind=kind, **{"demo_latency_ms": 0, **defaults[kind], **fields})
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


@dataclass
class Cluster:
    """A running `manage.py worker` process (a supervised qcluster) and its log."""

    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def start_qcluster(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Start real `manage.py worker` processes (each supervises a qcluster, as in production) on
    the test database (extra env per cluster)."""
    clusters: list[Cluster] = []

    def start(**env: str) -> Cluster:
        log_path = tmp_path / f"qcluster-{len(clusters)}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, str(PROJECT_ROOT / "manage.py"), "worker"],
                cwd=PROJECT_ROOT,
                env=subprocess_env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        cluster = Cluster(process, log_path)
        clusters.append(cluster)
        _wait_for_text(log_path, "ready for work", process, timeout=30)
        return cluster

    yield start
    for cluster in clusters:
        cluster.process.terminate()  # the supervisor stops its cluster, whole, within 20 s
    for cluster in clusters:
        try:
            cluster.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.process.pid, signal.SIGKILL)
            cluster.process.wait()


@pytest.fixture
def qcluster(start_qcluster: Callable[..., Cluster]) -> Path:
    """One real qcluster worker; yields its log file."""
    return start_qcluster().log_path


def _wait_for_text(path: Path, text: str, process: subprocess.Popen, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return
        if process.poll() is not None:
            raise RuntimeError(f"qcluster exited early:\n{path.read_text()}")
        time.sleep(0.1)
    raise RuntimeError(f"qcluster not ready after {timeout}s:\n{path.read_text()}")


# --- Cloud stand-ins and production mode -------------------------------------------------

#: Distinctive credential values: the secrets test proves they never leak anywhere.
AWS_TEST_KEY_ID = "AKIAHELIOSTESTKEY777"
AWS_TEST_SECRET = "hEl1os-AWS-secret-DO-NOT-LEAK-4f9a2c"
EVENTGRID_TEST_KEY = "hEl1os-EG-key-DO-NOT-LEAK-88d1b0"
#: A Standard Webhooks secret: whsec_ and the base64 of the key's bytes.
WEBHOOK_TEST_SECRET = "whsec_aEVsMW9zLXdlYmhvb2stc2VjcmV0LURPLU5PVC1MRUFLLTNiN2U="
PUBSUB_TOPIC = "projects/helios-test/topics/orders"
#: The pull round trip's subscription on PUBSUB_TOPIC (a receiver's `pull_subscription="helios-pull"`).
PULL_SUBSCRIPTION = "projects/helios-test/subscriptions/helios-pull"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the session; each test makes its own bus and queue."""
    server = MotoServer()
    yield server
    server.stop()


@dataclass
class EventBridgeTarget:
    bus: str
    queue_url: str
    sqs: object

    def received(self, expected: int, timeout: float = 10.0) -> list[dict]:
        """The EventBridge envelopes that reached the SQS target (waits for `expected`)."""
        found: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            found += [json.loads(m["Body"]) for m in reply.get("Messages", [])]
        return found


@pytest.fixture
def eventbridge_target(moto_server: MotoServer) -> EventBridgeTarget:
    """A bus with a rule (source com.test.orders) routing to an SQS queue."""
    name = f"helios-{uuid.uuid4().hex[:8]}"
    events, sqs = moto_server.client("events"), moto_server.client("sqs")
    events.create_event_bus(Name=name)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="to-sqs", EventBusName=name, EventPattern=json.dumps({"source": ["com.test.orders"]}))
    events.put_targets(Rule="to-sqs", EventBusName=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return EventBridgeTarget(bus=name, queue_url=queue_url, sqs=sqs)


@pytest.fixture
def pubsub_standin() -> Iterator[PubSubStandIn]:
    """A gRPC Pub/Sub stand-in with the topic projects/helios-test/topics/orders."""
    standin = PubSubStandIn()
    standin.topics.add(PUBSUB_TOPIC)
    yield standin
    standin.stop()


@pytest.fixture
def eventgrid_sink() -> Iterator[EventGridSink]:
    sink = EventGridSink()
    yield sink
    sink.stop()


@pytest.fixture
def webhook_endpoint() -> Iterator[WebhookEndpoint]:
    """A CloudEvents webhook receiver that verifies HELIOS's signatures with the test secret."""
    endpoint = WebhookEndpoint(WEBHOOK_TEST_SECRET)
    yield endpoint
    endpoint.stop()


@pytest.fixture
def production(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployment allows production; test credentials sit under the TEST_ prefix."""
    settings.HELIOS_DEPLOYMENT_MODE = "production"
    settings.HELIOS_PROVIDER_TIMEOUT_SECONDS = 3.0
    # The same for child processes (qcluster, manage.py) started by the test.
    monkeypatch.setenv("HELIOS_DEPLOYMENT_MODE", "production")
    monkeypatch.setenv("HELIOS_PROVIDER_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("TEST_AWS_ACCESS_KEY_ID", AWS_TEST_KEY_ID)
    monkeypatch.setenv("TEST_AWS_SECRET_ACCESS_KEY", AWS_TEST_SECRET)
    monkeypatch.setenv("TEST_EVENTGRID_ACCESS_KEY", EVENTGRID_TEST_KEY)
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_TEST_SECRET)
    close_clients()


@pytest.fixture
def production_providers(
    production, make_provider, moto_server, eventbridge_target, pubsub_standin, eventgrid_sink, webhook_endpoint
) -> dict[str, ProviderConfig]:
    """One production config per kind, each pointed at its stand-in by endpoint override."""
    return {
        "aws_eventbridge": make_provider(
            "aws-prod",
            "aws_eventbridge",
            mode="production",
            aws_event_bus=eventbridge_target.bus,
            aws_endpoint_url=moto_server.url,
            credentials_env_prefix="TEST_",
        ),
        "gcp_pubsub": make_provider("gcp-prod", "gcp_pubsub", mode="production", gcp_emulator_host=pubsub_standin.host),
        "azure_eventgrid": make_provider(
            "azure-prod",
            "azure_eventgrid",
            mode="production",
            azure_endpoint=eventgrid_sink.endpoint,
            credentials_env_prefix="TEST_",
        ),
        "cloudevents_http": make_provider(
            "webhook-prod",
            "cloudevents_http",
            mode="production",
            webhook_url=webhook_endpoint.endpoint,
            credentials_env_prefix="TEST_",
        ),
    }


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[OidcIssuer]:
    """A token issuer whose certificates are served over HTTP (Pub/Sub push authentication)."""
    issuer = OidcIssuer()
    yield issuer
    issuer.stop()


#: The receivers' shared secrets, from the environment like every HELIOS secret.
RECEIVER_TOKEN = "hEl1os-receiver-token-DO-NOT-LEAK-51c3"
RECEIVER_API_KEY = "hEl1os-receiver-apikey-DO-NOT-LEAK-9e7d"


@pytest.fixture
def make_receiver(db: None, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """Receiver settings for a provider config (token auth unless told otherwise), set up a week
    ago unless told otherwise (`created_at`): reconciliation never looks before a receiver's set-up."""
    from providers.models import ReceiverSettings

    monkeypatch.setenv("TEST_RECEIVER_TOKEN", RECEIVER_TOKEN)
    monkeypatch.setenv("TEST_RECEIVER_API_KEY", RECEIVER_API_KEY)

    def make(provider: ProviderConfig, **fields: object) -> ReceiverSettings:
        week_ago = timezone.now() - timedelta(days=7)
        defaults = {"auth": "token", "secret_env": "TEST_RECEIVER_TOKEN", "created_at": week_ago}
        receiver = ReceiverSettings(provider=provider, **{**defaults, **fields})
        receiver.full_clean()
        receiver.save()
        return receiver

    return make
