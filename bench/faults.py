"""HELIOS under faults: lost and duplicate deliveries per kind of fault.

PostgreSQL, two supervised workers (`manage.py worker`) of --workers processes each, every
provider in production mode against the test suite's stand-ins: Pub/Sub (the gRPC stand-in) and
Event Grid (the HTTP sink, answering after --provider-delay seconds so that faults hit calls in
flight). The bench plays the process supervisor (systemd, Kubernetes): a worker that exits (a
jammed cluster ends itself with status 75) is started again, and counted.

One phase per kind of fault, each on an emptied database, publishing --events events at --rate
per second to both providers while --faults faults of that kind are spread over the time:

  worker_kill_busy   SIGKILL of a worker process running a task (the sentinel respawns it)
  worker_kill_idle   a pause in publishing until the cluster is idle, then SIGKILL of all its
                     idle workers: the one waiting on django-q2's task queue dies holding the
                     queue's lock and the cluster jams (django-q2 issue #23) until the watchdog
                     ends it and the supervisor starts a fresh one
  connection_kill    pg_terminate_backend on every other database connection

Per phase: lost (a delivery not succeeded, or succeeded and never received by its stand-in:
must be 0), duplicates (extra arrivals at the stand-ins), attempts of unknown outcome (leases the
sweeper recovered), worker restarts, and recovery time (from the last fault until every delivery
is final). --json prints one JSON object last.

    .venv/bin/python bench/faults.py [--events 1000] [--rate 200] [--faults 2] [--json]
    .venv/bin/python bench/faults.py --smoke    # CI: a few events, one fault of each kind
"""

import argparse
import collections
import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import (  # noqa: E402
    process_title,
    process_tree,
    publish_to,
    save_in_production,
    setup_django,
    start_worker,
    stop_processes,
)
from soak import kill_connections, reset  # noqa: E402
from throughput import CREDENTIALS  # noqa: E402

#: Short leases, sweeps and stall detection so that the bench recovers in seconds.
LEASE_SECONDS = 10
STALL_SECONDS = 5
KINDS = ("worker_kill_busy", "worker_kill_idle", "connection_kill")


class Stack:
    """The stand-ins and two supervised workers, restarted when they exit."""

    def __init__(self, database_url: str, provider_delay: float, workers: int) -> None:
        from tests.standins import EventGridSink, PubSubStandIn

        self.pubsub, self.grid = PubSubStandIn(), EventGridSink()
        self.pubsub.topics.add("projects/helios-faults/topics/orders")
        self.grid.delay_seconds = provider_delay
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HELIOS_DEPLOYMENT_MODE": "production",
            "HELIOS_LEASE_SECONDS": str(LEASE_SECONDS),
            "HELIOS_WORKER_STALL_SECONDS": str(STALL_SECONDS),
            "LOG_LEVEL": "WARNING",
            "Q_WORKERS": str(workers),
            **CREDENTIALS,
        }
        self.workers = [start_worker(ROOT, self.env), start_worker(ROOT, self.env)]
        self.restarts = 0

    def supervise(self) -> None:
        """Start again every worker that has exited (what systemd or Kubernetes does)."""
        for number, worker in enumerate(self.workers):
            if worker.poll() is not None:
                self.workers[number] = start_worker(ROOT, self.env)
                self.restarts += 1

    def worker_titles(self, cluster: int) -> dict[int, str]:
        """The django-q2 worker processes of one cluster and their titles (`… idle|processing …`)."""
        titles = {pid: process_title(pid) for pid in process_tree(self.workers[cluster].pid)}
        return {pid: title for pid, title in titles.items() if title.endswith(" idle") or " processing " in title}

    def received(self, event_ids: set[str]) -> dict[str, collections.Counter]:
        """Per provider kind: how many times each of these events reached its stand-in."""
        pubsub = collections.Counter(m.attributes.get("ce-id") for m in self.pubsub.messages)
        grid = collections.Counter(e["id"] for e in self.grid.accepted_events())
        return {
            kind: collections.Counter({k: v for k, v in counter.items() if k in event_ids})
            for kind, counter in (("gcp_pubsub", pubsub), ("azure_eventgrid", grid))
        }

    def stop(self) -> None:
        stop_processes(self.workers)
        self.pubsub.stop()
        self.grid.stop()


def kill_a_busy_worker(stack: Stack, turn: int) -> str:
    """SIGKILL one worker of a cluster while it runs a task (waits up to 5 s for one)."""
    cluster = turn % 2
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        busy = [pid for pid, title in stack.worker_titles(cluster).items() if " processing " in title]
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            return f"SIGKILL busy worker {busy[0]} of cluster {cluster + 1}"
        time.sleep(0.02)
    return "no busy worker within 5 s"


def jam_an_idle_cluster(stack: Stack, turn: int) -> str:
    """Once every worker of a cluster is idle (publishing paused), SIGKILL them all."""
    cluster = turn % 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        titles = stack.worker_titles(cluster)
        if titles and all(title.endswith(" idle") for title in titles.values()):
            for pid in titles:
                os.kill(pid, signal.SIGKILL)
            return f"SIGKILL all {len(titles)} idle workers of cluster {cluster + 1}"
        stack.supervise()
        time.sleep(0.1)
    return "the cluster did not go idle within 30 s"


def kill_db_connections(stack: Stack, turn: int) -> str:
    return kill_connections(stack, turn)


FAULTS = {
    "worker_kill_busy": kill_a_busy_worker,
    "worker_kill_idle": jam_an_idle_cluster,
    "connection_kill": kill_db_connections,
}


def make_configs(stack: Stack) -> list:
    from providers.models import ProviderConfig

    return save_in_production(
        [
            ProviderConfig(
                name="gcp-faults",
                kind="gcp_pubsub",
                gcp_project="helios-faults",
                gcp_topic="orders",
                gcp_emulator_host=stack.pubsub.host,
            ),
            ProviderConfig(
                name="azure-faults",
                kind="azure_eventgrid",
                azure_endpoint=stack.grid.endpoint,
                credentials_env_prefix="BENCH_",
            ),
        ]
    )


def publish_with_faults(stack: Stack, configs: list, args: argparse.Namespace, kind: str) -> tuple[set, list, float]:
    """Publish at the rate, injecting the phase's faults evenly; the event ids published, what was
    injected, and when the last fault came (monotonic seconds)."""
    from django.db import DatabaseError, connection

    from events.services.publishing import EventSpec

    seconds = args.events / args.rate
    plan = [seconds * (n + 0.5) / args.faults for n in range(args.faults)]
    published: set[str] = set()
    done, started, last_fault = [], time.monotonic(), time.monotonic()
    while len(published) < args.events:
        stack.supervise()
        elapsed = time.monotonic() - started
        due = min(int(elapsed * args.rate) + 1, args.events) - len(published)
        if due > 0:
            specs = [EventSpec("OrderPlaced", "com.faults", {"n": len(published) + i}, "") for i in range(due)]
            try:
                published |= {str(e.id) for e in publish_to(specs, configs)}
            except DatabaseError:  # our own connection was among those killed: reconnect and go on
                connection.close()
        if plan and plan[0] <= elapsed:
            plan.pop(0)
            paused = time.monotonic()
            done.append(f"{elapsed:6.1f} s  {FAULTS[kind](stack, len(done))}")
            print(f"  {kind}: {done[-1]}", flush=True)
            started += time.monotonic() - paused  # the pause does not count as publishing time
            last_fault = time.monotonic()
        time.sleep(0.02)
    return published, done, last_fault


def wait_final(stack: Stack, timeout: float) -> bool:
    from django.db import DatabaseError, connection

    from events.models import FINAL_STATUSES, Delivery

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.supervise()
        try:
            if not Delivery.objects.exclude(status__in=FINAL_STATUSES).exists():
                return True
        except DatabaseError:
            connection.close()
        time.sleep(0.5)
    return False


def run_phase(stack: Stack, args: argparse.Namespace, kind: str) -> dict:
    """One kind of fault on an emptied database: its figures."""
    from events.models import AttemptOutcome, Delivery, DeliveryAttempt

    reset()
    configs = make_configs(stack)
    restarts_before = stack.restarts
    published, faults, last_fault = publish_with_faults(stack, configs, args, kind)
    drained = wait_final(stack, args.drain_timeout)
    recovery_s = time.monotonic() - last_fault
    received = stack.received(published)
    lost = 0
    for status, provider_kind, event_id in Delivery.objects.values_list("status", "provider__kind", "event_id"):
        if status != "succeeded" or received[provider_kind][str(event_id)] == 0:
            lost += 1
    deliveries = Delivery.objects.count()
    duplicates = sum(count - 1 for counter in received.values() for count in counter.values() if count > 1)
    return {
        "events": len(published),
        "deliveries": deliveries,
        "drained": drained,
        "lost": lost,
        "duplicates": duplicates,
        "duplicate_rate_pct": round(100 * duplicates / deliveries, 2) if deliveries else None,
        "unknown_outcome_attempts": DeliveryAttempt.objects.filter(outcome=AttemptOutcome.UNKNOWN).count(),
        "worker_restarts": stack.restarts - restarts_before,
        "recovery_s": round(recovery_s, 1),
        "faults": faults,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000, help="events per phase, each to 2 providers (1000)")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second (200)")
    parser.add_argument("--faults", type=int, default=2, help="faults per phase (2)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"phases to run ({','.join(KINDS)})")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per cluster (2)")
    parser.add_argument("--provider-delay", type=float, default=0.2, help="seconds each Event Grid call takes (0.2)")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--smoke", action="store_true", help="CI: 40 events, one fault of each kind")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helios_faults"),
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.rate, args.faults = 40, 20.0, 1
    kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    setup_django(
        args.database_url, HELIOS_DEPLOYMENT_MODE="production", HELIOS_LEASE_SECONDS=str(LEASE_SECONDS), **CREDENTIALS
    )
    reset()
    stack = Stack(args.database_url, args.provider_delay, args.workers)
    try:
        time.sleep(3)  # the clusters start
        per_kind = {kind: run_phase(stack, args, kind) for kind in kinds}
    finally:
        stack.stop()
    for kind, figures in per_kind.items():
        print(f"{kind}:")
        for key in ("events", "deliveries", "lost", "duplicates", "unknown_outcome_attempts", "worker_restarts"):
            print(f"{key:>26}: {figures[key]}")
        print(f"{'recovery (s)':>26}: {figures['recovery_s']}")
    if args.json:
        print(
            json.dumps(
                {
                    "per_fault_kind": per_kind,
                    "lost": sum(f["lost"] for f in per_kind.values()),
                    "duplicates": sum(f["duplicates"] for f in per_kind.values()),
                    "cores": os.cpu_count(),
                }
            )
        )


if __name__ == "__main__":
    main()
