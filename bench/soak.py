"""HELIOS soak: web and two workers for N minutes at a steady publish rate, with faults injected.

Runs on PostgreSQL against the test suite's stand-ins, every provider in production mode:
EventBridge (moto, a rule routing to SQS, drained continuously), Pub/Sub (the gRPC stand-in),
Event Grid (the HTTP sink). Processes: gunicorn (the web process: /readyz and /metrics are polled
every 5 s) and two `qcluster` processes of one worker each. The bench process publishes `--rate`
events per second to the three providers. Every `--fault-every` seconds the next fault, in turn:

  worker kill        SIGKILL one cluster's worker process in the middle of its work
  provider outage    Event Grid answers 503 and Pub/Sub UNAVAILABLE for 20 s
  connection kill    pg_terminate_backend on every other connection to the database

Then it stops publishing, waits for every delivery to be final, and prints: events published,
deliveries succeeded, lost (a delivery not succeeded, or succeeded but never received by its
stand-in: must be 0), duplicates (extra receipts at the stand-ins, each explained by an attempt
of unknown outcome), commit-to-succeeded latency p50/p95, web probe results, and memory growth
per process from the end of the warm-up to the end. --json prints one JSON object last.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 10] [--fault-every 60] [--json]
"""

import argparse
import collections
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import memory_kb, process_title, process_tree, publish_to, save_in_production, start_worker, stop_processes  # noqa: E402
from throughput import CREDENTIALS, setup_django  # noqa: E402

OUTAGE_SECONDS = 20
WARM_UP_SECONDS = 30
METRICS_TOKEN = "soak-metrics-token"


class Stack:
    """The stand-ins, the web process and two worker processes."""

    def __init__(self, database_url: str) -> None:
        from tests.standins import EventGridSink, MotoServer, PubSubStandIn, free_port

        self.moto, self.pubsub, self.grid = MotoServer(), PubSubStandIn(), EventGridSink()
        self.pubsub.topics.add("projects/helios-soak/topics/orders")
        events, sqs = self.moto.client("events"), self.moto.client("sqs")
        events.create_event_bus(Name="helios-soak")
        self.queue_url = sqs.create_queue(QueueName="helios-soak")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName="helios-soak", EventPattern=json.dumps({"source": ["com.soak"]}))
        events.put_targets(Rule="all", EventBusName="helios-soak", Targets=[{"Id": "q", "Arn": arn}])
        self.sqs = sqs
        self.aws_received: collections.Counter = collections.Counter()
        self._draining = True
        self._drainer = threading.Thread(target=self._drain_sqs, daemon=True)
        self._drainer.start()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HELIOS_DEPLOYMENT_MODE": "production",
            "LOG_LEVEL": "WARNING",
            "Q_WORKERS": "1",
            **CREDENTIALS,
        }
        self.web_port = free_port()
        static = tempfile.mkdtemp(prefix="helios-soak-static-")
        web_env = {
            **self.env,
            "DEBUG": "false",
            "SECRET_KEY": "soak-" + "k" * 60,
            "ALLOWED_HOSTS": "127.0.0.1",
            "HELIOS_SSL_REDIRECT": "false",
            "STATIC_ROOT": static,
            "HELIOS_METRICS_TOKEN": METRICS_TOKEN,
        }
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "helios_site.wsgi", "--bind", f"127.0.0.1:{self.web_port}"],
            cwd=ROOT,
            env=web_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.workers = [start_worker(ROOT, self.env), start_worker(ROOT, self.env)]
        time.sleep(5)

    def _drain_sqs(self) -> None:
        while self._draining:
            reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in reply.get("Messages", []):
                event = json.loads(message["Body"])
                self.aws_received[event["detail"]["metadata"]["event_id"]] += 1
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def processes(self) -> dict[str, list[int]]:
        """Process name → pids (the web's master and workers; each cluster's tree)."""
        found = {"web": process_tree(self.web.pid)}
        for number, worker in enumerate(self.workers, start=1):
            found[f"cluster-{number}"] = process_tree(worker.pid)
        return found

    def memory_mb(self) -> dict[str, float]:
        usage = {name: sum(memory_kb(pids, "VmRSS").values()) for name, pids in self.processes().items()}
        return {name: round(kb / 1024, 1) for name, kb in usage.items()}

    def received(self) -> dict[str, collections.Counter]:
        """Per provider kind: how many times each event id reached its stand-in."""
        pubsub = collections.Counter(m.attributes.get("ce-id") for m in self.pubsub.messages)
        grid = collections.Counter(e["id"] for e in self.grid.accepted_events())
        return {"aws_eventbridge": self.aws_received, "gcp_pubsub": pubsub, "azure_eventgrid": grid}

    def probe(self, path: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}{path}", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def stop(self) -> None:
        stop_processes([self.web, *self.workers])
        self._draining = False
        self.moto.stop()
        self.pubsub.stop()
        self.grid.stop()


# --- Faults ---------------------------------------------------------------------------------


def kill_a_worker(stack: Stack, turn: int) -> str:
    """SIGKILL a worker process of one cluster, one busy with a task if any is within 2 s (the
    sentinel respawns it). django-q2 titles its workers "qcluster … idle|processing …"."""
    cluster = stack.workers[turn % 2]
    deadline = time.monotonic() + 2
    while True:
        titles = {pid: title for pid in process_tree(cluster.pid) if (title := process_title(pid))}
        busy = [pid for pid, title in titles.items() if " processing " in title]
        idle = [pid for pid, title in titles.items() if title.endswith(" idle")]
        if busy or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if not (busy or idle):
        return "worker kill: no worker process found"
    victim = (busy or idle)[0]
    os.kill(victim, signal.SIGKILL)
    return f"worker kill: SIGKILL pid {victim} of cluster {turn % 2 + 1} ({'busy' if busy else 'idle'})"


def provider_outage(stack: Stack, turn: int) -> str:
    stack.grid.fail_always = 503
    stack.pubsub.fail_always = grpc.StatusCode.UNAVAILABLE

    def heal() -> None:
        time.sleep(OUTAGE_SECONDS)
        stack.grid.fail_always = None
        stack.pubsub.fail_always = None

    threading.Thread(target=heal, daemon=True).start()
    return f"provider outage: Event Grid 503 and Pub/Sub UNAVAILABLE for {OUTAGE_SECONDS} s"


def kill_connections(stack: Stack, turn: int) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        killed = cursor.fetchone()[0]
    return f"connection kill: terminated {killed} database connections"


FAULTS = [kill_a_worker, provider_outage, kill_connections]


# --- The run --------------------------------------------------------------------------------


def make_configs(stack: Stack) -> list:
    from providers.models import ProviderConfig

    return save_in_production(
        [
            ProviderConfig(
                name="aws-soak",
                kind="aws_eventbridge",
                aws_region="eu-west-1",
                aws_event_bus="helios-soak",
                aws_source="com.soak",
                aws_endpoint_url=stack.moto.url,
                credentials_env_prefix="BENCH_",
            ),
            ProviderConfig(
                name="gcp-soak",
                kind="gcp_pubsub",
                gcp_project="helios-soak",
                gcp_topic="orders",
                gcp_emulator_host=stack.pubsub.host,
            ),
            ProviderConfig(
                name="azure-soak",
                kind="azure_eventgrid",
                azure_endpoint=stack.grid.endpoint,
                credentials_env_prefix="BENCH_",
            ),
        ]
    )


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events_deliveryattempt, events_delivery, events_event, events_hourlystats, events_receipt, "
            "django_q_ormq, django_q_task, providers_providerruntime, providers_modechange, "
            "providers_providerconfig, helios_site_auditentry, helios_site_heartbeat RESTART IDENTITY CASCADE"
        )


def publish_steadily(configs: list, rate: float, seconds: float, on_tick) -> int:
    """Publish `rate` events per second for `seconds`; returns how many events were published."""
    from django.db import DatabaseError, connection

    from events.services.publishing import EventSpec

    published, started = 0, time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate) + 1 - published
        if due > 0:
            specs = [
                EventSpec(event_type="OrderPlaced", source="com.soak", subject=f"orders/{published + i}", data={"n": i})
                for i in range(due)
            ]
            try:
                publish_to(specs, configs)
                published += due
            except DatabaseError:  # our own connection was among those killed: reconnect and go on
                connection.close()
        on_tick(elapsed)
        time.sleep(0.1)
    return published


def wait_final(timeout: float) -> bool:
    from events.models import FINAL_STATUSES, Delivery

    deadline = time.monotonic() + timeout
    while Delivery.objects.exclude(status__in=FINAL_STATUSES).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(2)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second, each to 3 providers (10)")
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between faults (60)")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helios_soak"),
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    setup_django(args.database_url)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    reset()
    stack = Stack(args.database_url)
    configs = make_configs(stack)
    faults: list[str] = []
    probes: collections.Counter = collections.Counter()
    state = {"next_fault": WARM_UP_SECONDS + args.fault_every / 2, "turn": 0, "next_probe": 0.0, "memory": None}

    def on_tick(elapsed: float) -> None:
        if state["memory"] is None and elapsed >= WARM_UP_SECONDS:
            state["memory"] = stack.memory_mb()
        if elapsed >= state["next_probe"]:
            probes[f"readyz {stack.probe('/readyz')}"] += 1
            probes[f"metrics {stack.probe('/metrics')}"] += 1
            state["next_probe"] = elapsed + 5
        if elapsed >= state["next_fault"]:
            fault = FAULTS[state["turn"] % len(FAULTS)]
            faults.append(f"{elapsed:6.0f} s  {fault(stack, state['turn'] // len(FAULTS))}")
            print(faults[-1], flush=True)
            state["turn"] += 1
            state["next_fault"] = elapsed + args.fault_every

    try:
        published = publish_steadily(configs, args.rate, args.minutes * 60, on_tick)
        drained = wait_final(args.drain_timeout)
        end_memory = stack.memory_mb()
        figures = summarize(stack, published, drained, faults, probes, state["memory"] or end_memory, end_memory)
    finally:
        stack.stop()
    figures.update({"cores": os.cpu_count(), "minutes": args.minutes, "rate_per_s": args.rate})
    for key in ("published", "deliveries", "delivered", "lost", "duplicates", "unknown_outcome_attempts"):
        print(f"{key:>26}: {figures[key]}")
    print(f"{'latency p50 / p95 (s)':>26}: {figures['latency_p50_s']} / {figures['latency_p95_s']}")
    print(f"{'web probes':>26}: {json.dumps(figures['web_probes'])}")
    print(f"{'memory growth per process':>26}: {json.dumps(figures['memory_growth_pct'])}")
    if args.json:
        print(json.dumps(figures))


def summarize(stack: Stack, published: int, drained: bool, faults: list, probes, start_mb: dict, end_mb: dict) -> dict:
    from events.models import AttemptOutcome, Delivery, DeliveryAttempt

    received = stack.received()
    deliveries = Delivery.objects.select_related("provider")
    lost, latencies = 0, []
    for status, kind, event_id, created, completed in deliveries.values_list(
        "status", "provider__kind", "event_id", "created_at", "completed_at"
    ).iterator():
        if status != "succeeded" or received[kind][str(event_id)] == 0:
            lost += 1
        else:
            latencies.append((completed - created).total_seconds())
    latencies.sort()
    duplicates = sum(count - 1 for counter in received.values() for count in counter.values() if count > 1)
    return {
        "published": published,
        "deliveries": deliveries.count(),
        "delivered": Delivery.objects.filter(status="succeeded").count(),
        "drained": drained,
        "lost": lost,
        "duplicates": duplicates,
        "unknown_outcome_attempts": DeliveryAttempt.objects.filter(outcome=AttemptOutcome.UNKNOWN).count(),
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(latencies[int(len(latencies) * 0.95) - 1], 3) if latencies else None,
        "faults": faults,
        "web_probes": dict(probes),
        "memory_mb_start": start_mb,
        "memory_mb_end": end_mb,
        "memory_growth_pct": {
            name: round(100 * (end_mb[name] - start_mb[name]) / start_mb[name], 1) if start_mb.get(name) else None
            for name in end_mb
        },
    }


if __name__ == "__main__":
    main()
