"""HELIOS under faults: lost and duplicate deliveries when workers die and database connections drop.

PostgreSQL, two `qcluster` processes of one worker each, every provider in production mode against
the test suite's stand-ins: Pub/Sub (the gRPC stand-in) and Event Grid (the HTTP sink), each
answering after --provider-delay seconds so that connections are killed while calls are in
flight. The bench publishes --events events at --rate per second to both, and meanwhile:

  connection kills   --connection-kills times, pg_terminate_backend on every other connection
  worker kill        --worker-kills times, SIGKILL of one cluster's worker process mid-work

spread evenly over the publishing time. Then it waits until every delivery is final and prints:
events, deliveries, lost (a delivery not succeeded, or succeeded and never received by its
stand-in: must be 0), duplicates (extra arrivals at the stand-ins), attempts of unknown outcome
(leases the sweeper recovered), recovery time (from the last fault until every delivery is
final), and the duplicate rate. --json prints one JSON object last.

    .venv/bin/python bench/faults.py [--events 2000] [--rate 400] [--connection-kills 5] [--json]
"""

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import save_in_production, setup_django, start_worker, stop_processes  # noqa: E402
from soak import kill_a_worker, kill_connections, reset  # noqa: E402
from throughput import CREDENTIALS  # noqa: E402

#: Short leases and sweeps so that the bench recovers in seconds, as production does in minutes.
LEASE_SECONDS = 10


class Stack:
    """The stand-ins and two worker processes."""

    def __init__(self, database_url: str, provider_delay: float) -> None:
        from tests.standins import EventGridSink, PubSubStandIn

        self.pubsub, self.grid = PubSubStandIn(), EventGridSink()
        self.pubsub.topics.add("projects/helios-faults/topics/orders")
        self.grid.delay_seconds = provider_delay
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HELIOS_DEPLOYMENT_MODE": "production",
            "HELIOS_LEASE_SECONDS": str(LEASE_SECONDS),
            "LOG_LEVEL": "WARNING",
            "Q_WORKERS": "1",
            **CREDENTIALS,
        }
        self.workers = [start_worker(ROOT, self.env), start_worker(ROOT, self.env)]

    def received(self) -> dict[str, collections.Counter]:
        """Per provider kind: how many times each event id reached its stand-in."""
        pubsub = collections.Counter(m.attributes.get("ce-id") for m in self.pubsub.messages)
        grid = collections.Counter(e["id"] for e in self.grid.accepted_events())
        return {"gcp_pubsub": pubsub, "azure_eventgrid": grid}

    def stop(self) -> None:
        stop_processes(self.workers)
        self.pubsub.stop()
        self.grid.stop()


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


def fault_plan(seconds: float, connection_kills: int, worker_kills: int) -> list[tuple[float, str]]:
    """(when, which) for every fault, spread evenly over the publishing time, in time order."""
    plan = [(seconds * (n + 1) / (connection_kills + 1), "connections") for n in range(connection_kills)]
    plan += [(seconds * (n + 0.5) / worker_kills, "worker") for n in range(worker_kills)]
    return sorted(plan)


def publish_with_faults(stack: Stack, configs: list, events: int, rate: float, plan: list) -> tuple[list, float]:
    """Publish `events` at `rate` per second, injecting the planned faults; returns what was
    injected and when the last fault came (monotonic seconds)."""
    from django.db import DatabaseError, connection

    from events.services.publishing import EventSpec, publish_many

    published, done, started, last_fault = 0, [], time.monotonic(), time.monotonic()
    pending = list(plan)
    while published < events:
        elapsed = time.monotonic() - started
        due = min(int(elapsed * rate) + 1, events) - published
        if due > 0:
            specs = [
                EventSpec("OrderPlaced", "com.faults", {"n": published + i}, f"orders/{published + i}")
                for i in range(due)
            ]
            try:
                publish_many(specs=specs, providers=configs)
                published += due
            except DatabaseError:  # our own connection was among those killed: reconnect and go on
                connection.close()
        while pending and pending[0][0] <= elapsed:
            _, kind = pending.pop(0)
            fault = kill_connections if kind == "connections" else kill_a_worker
            done.append(f"{elapsed:6.1f} s  {fault(stack, len(done))}")
            print(done[-1], flush=True)
            last_fault = time.monotonic()
        time.sleep(0.05)
    return done, last_fault


def wait_final(timeout: float) -> bool:
    from django.db import DatabaseError, connection

    from events.models import FINAL_STATUSES, Delivery

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not Delivery.objects.exclude(status__in=FINAL_STATUSES).exists():
                return True
        except DatabaseError:
            connection.close()
        time.sleep(0.5)
    return False


def summarize(stack: Stack, events: int, drained: bool, recovery_s: float, faults: list) -> dict:
    from events.models import AttemptOutcome, Delivery, DeliveryAttempt

    received = stack.received()
    lost = 0
    for status, kind, event_id in Delivery.objects.values_list("status", "provider__kind", "event_id").iterator():
        if status != "succeeded" or received[kind][str(event_id)] == 0:
            lost += 1
    deliveries = Delivery.objects.count()
    duplicates = sum(count - 1 for counter in received.values() for count in counter.values() if count > 1)
    return {
        "events": events,
        "deliveries": deliveries,
        "drained": drained,
        "lost": lost,
        "duplicates": duplicates,
        "duplicate_rate_pct": round(100 * duplicates / deliveries, 2) if deliveries else None,
        "unknown_outcome_attempts": DeliveryAttempt.objects.filter(outcome=AttemptOutcome.UNKNOWN).count(),
        "recovery_s": round(recovery_s, 1),
        "faults": faults,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=400.0, help="events per second, each to 2 providers (400)")
    parser.add_argument("--connection-kills", type=int, default=5)
    parser.add_argument("--worker-kills", type=int, default=1)
    parser.add_argument("--provider-delay", type=float, default=0.2, help="seconds each Event Grid call takes (0.2)")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helios_faults"),
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    setup_django(
        args.database_url, HELIOS_DEPLOYMENT_MODE="production", HELIOS_LEASE_SECONDS=str(LEASE_SECONDS), **CREDENTIALS
    )
    reset()
    stack = Stack(args.database_url, args.provider_delay)
    try:
        configs = make_configs(stack)
        time.sleep(3)  # the clusters start
        plan = fault_plan(args.events / args.rate, args.connection_kills, args.worker_kills)
        faults, last_fault = publish_with_faults(stack, configs, args.events, args.rate, plan)
        drained = wait_final(args.drain_timeout)
        figures = summarize(stack, args.events, drained, time.monotonic() - last_fault, faults)
    finally:
        stack.stop()
    figures["cores"] = os.cpu_count()
    for key in ("events", "deliveries", "lost", "duplicates", "duplicate_rate_pct", "unknown_outcome_attempts"):
        print(f"{key:>26}: {figures[key]}")
    print(f"{'recovery (s)':>26}: {figures['recovery_s']}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
