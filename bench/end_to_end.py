"""HELIOS end to end: events posted to the API at a steady rate, through the accept log and the
workers, to the three stand-ins (EventBridge on moto, the Pub/Sub gRPC stand-in, the Event Grid
sink), against what the same workers send when fed directly.

    .venv/bin/python bench/end_to_end.py [--seconds 60] [--direct-events 3000] [--batch 20] [--json]

One run, one gunicorn (the Procfile's 3 workers) and one `manage.py worker` with 2 workers, every
event to all three clouds (three deliveries):
  direct  L2 fed directly: one publish request of N events, until every delivery succeeded;
  full    the API at L2's rate for --seconds: the rate HELIOS sustains end to end, events whose
          three deliveries succeeded over the time from the first post to the last success
          (`ratio_api_over_l2`);
  half    the API at half that rate for --seconds: the latency HELIOS adds, per delivery, from
          the API's 202 to the cloud's acknowledgement (the delivery's `completed_at`);
lost: events answered 202 whose three deliveries did not all succeed within --drain seconds.

The load is open-loop (each request has its time, whether or not earlier ones were answered), from
threads in this process, which also runs the stand-ins: all of it shares the machine's cores.
Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helios_e2e; created if
missing, its HELIOS tables emptied). No cloud: the stand-ins answer.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

KINDS = ("aws_eventbridge", "gcp_pubsub", "azure_eventgrid")
ENV = {
    "HELIOS_DEPLOYMENT_MODE": "production",
    "BENCH_AWS_ACCESS_KEY_ID": "AKIABENCH",
    "BENCH_AWS_SECRET_ACCESS_KEY": "bench",
    "BENCH_EVENTGRID_ACCESS_KEY": "bench-key",
    "DEBUG": "false",
    "SECRET_KEY": "bench-" + "e2e" * 20,  # the web and the workers sign and read the same doorbells
    "ALLOWED_HOSTS": "127.0.0.1",
    "HELIOS_SSL_REDIRECT": "false",
    "Q_WORKERS": "2",
}


def envelope(i: int, providers: list[str]) -> dict:
    return {
        "type": "OrderPlaced",
        "source": "com.bench.e2e",
        "subject": f"orders/{i}",
        "data": {"order_id": f"o-{i}", "amount": 10.5, "lines": [{"sku": "A-1", "qty": 2}]},
        "providers": providers,
    }


class Load:
    """Requests of `batch` events posted at `events_per_s` for `seconds`, open-loop, by threads
    with a kept-alive connection each; what each 202 answered and when."""

    def __init__(self, url: str, secret: str, providers: list[str], *, events_per_s: float, batch: int) -> None:
        self.target = urlsplit(url)
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        self.providers = providers
        self.batch = batch
        self.interval = batch / events_per_s
        self.accepted: dict[str, float] = {}  # event id -> wall-clock time of its 202
        self.refused: dict[int, int] = {}
        self._next = 0
        self._lock = threading.Lock()

    def run(self, seconds: float, threads: int = 8) -> tuple[float, float]:
        """Post for `seconds`; the wall-clock times of the first request and of the last answer."""
        self.requests = max(int(seconds / self.interval), 1)
        self.started = time.time()
        workers = [threading.Thread(target=self._post_until_done) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return self.started, time.time()

    def _post_until_done(self) -> None:
        connection = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=60)
        while True:
            with self._lock:
                index = self._next
                self._next += 1
            if index >= self.requests:
                return
            delay = self.started + index * self.interval - time.time()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps([envelope(index * self.batch + i, self.providers) for i in range(self.batch)])
            connection.request("POST", "/api/v1/events", body, self.headers)
            answer = connection.getresponse()
            payload = answer.read()
            at = time.time()
            with self._lock:
                if answer.status == 202:
                    for event in json.loads(payload)["events"]:
                        self.accepted[event["id"]] = at
                else:
                    self.refused[answer.status] = self.refused.get(answer.status, 0) + 1


def succeeded_count() -> int:
    from events.models import Delivery

    return Delivery.objects.filter(status="succeeded").count()


def wait_for_succeeded(total: int, timeout: float) -> bool:
    """Whether `total` deliveries succeeded (in all) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while succeeded_count() < total:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def outcomes(event_ids: list[str]) -> dict[str, list[tuple[str, datetime | None]]]:
    """Each event's deliveries: (status, completed_at)."""
    from events.models import Delivery

    found: dict[str, list[tuple[str, datetime | None]]] = {event_id: [] for event_id in event_ids}
    for start in range(0, len(event_ids), 2000):
        chunk = [uuid.UUID(event_id) for event_id in event_ids[start : start + 2000]]
        for event_id, status, completed_at in Delivery.objects.filter(event_id__in=chunk).values_list(
            "event_id", "status", "completed_at"
        ):
            found[str(event_id)].append((status, completed_at))
    return found


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50 and p99 of seconds, in milliseconds."""
    if not values:
        return {"p50_ms": None, "p99_ms": None}
    values = sorted(values)
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p99_ms": round(values[max(int(len(values) * 0.99) - 1, 0)] * 1000, 1),
    }


def stages(answered_at: dict[str, float]) -> dict[str, dict[str, float | None]]:
    """Where the added latency goes, per delivery sent on its first attempt: the 202 until its
    request was expanded (`expansion`), until the send task started its attempt (`send_queue`),
    and the cloud call (`cloud_call`; the outcome is recorded with the call's end)."""
    from events.models import DeliveryAttempt
    from gateway.models import AcceptedRequest

    expanded_at: dict[str, float] = {}
    for groups, expanded in AcceptedRequest.objects.filter(expanded_at__isnull=False).values_list(
        "groups", "expanded_at"
    ):
        for group in groups:
            for fields in group["events"]:
                expanded_at[fields["id"]] = expanded.timestamp()
    found: dict[str, list[float]] = {"expansion": [], "send_queue": [], "cloud_call": []}
    first_attempts = DeliveryAttempt.objects.filter(number=1, outcome="succeeded").values_list(
        "delivery__event_id", "started_at", "finished_at"
    )
    for event_id, started, finished in first_attempts.iterator(chunk_size=5000):
        answered, expanded = answered_at.get(str(event_id)), expanded_at.get(str(event_id))
        if answered is None or expanded is None:
            continue
        found["expansion"].append(expanded - answered)
        found["send_queue"].append(started.timestamp() - expanded)
        found["cloud_call"].append(finished.timestamp() - started.timestamp())
    return {stage: percentiles(values) for stage, values in found.items()}


def direct(configs: list, n: int, drain: float) -> dict:
    """L2 fed directly: events per second from the commit to the last success."""
    from events.services.publishing import EventSpec

    before = succeeded_count()
    specs = [
        EventSpec(event_type="OrderPlaced", source="com.bench.e2e", subject=f"orders/{i}", data={"order_id": f"o-{i}"})
        for i in range(n)
    ]
    common.publish_to(specs, configs)
    committed = time.monotonic()
    if not wait_for_succeeded(before + n * len(configs), drain):
        raise SystemExit(f"direct: not every delivery of {n} events succeeded within {drain} s")
    return {"events": n, "events_per_s": round(n / (time.monotonic() - committed), 1)}


def through_api(url: str, secret: str, configs: list, *, rate: float, seconds: float, batch: int, drain: float) -> dict:
    """The API at `rate` events/s for `seconds`: the rate sustained end to end, the latency from
    each 202 to the cloud's acknowledgement, and what was lost."""
    before = succeeded_count()
    load = Load(url, secret, [c.name for c in configs], events_per_s=rate, batch=batch)
    first_post, _ = load.run(seconds)
    accepted = list(load.accepted)
    wait_for_succeeded(before + len(accepted) * len(configs), drain)
    found = outcomes(accepted)
    latencies, last_success, lost = [], first_post, 0
    for event_id, deliveries in found.items():
        done = [completed for status, completed in deliveries if status == "succeeded" and completed]
        if len(done) < len(configs):
            lost += 1
            continue
        for completed in done:
            latencies.append(completed.timestamp() - load.accepted[event_id])
            last_success = max(last_success, completed.timestamp())
    delivered = len(accepted) - lost
    added = percentiles(latencies)
    return {
        "offered_events_per_s": round(rate, 1),
        "accepted": len(accepted),
        "refused": load.refused,
        "sustained_events_per_s": round(delivered / (last_success - first_post), 1) if delivered else 0.0,
        "added_latency_p50_ms": added["p50_ms"],
        "added_latency_p99_ms": added["p99_ms"],
        "stages": stages(load.accepted),
        "lost": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="seconds of load per API phase (60)")
    parser.add_argument("--direct-events", type=int, default=3000, help="events fed directly to L2 (3000)")
    parser.add_argument("--batch", type=int, default=20, help="events per API request (20)")
    parser.add_argument("--drain", type=float, default=180, help="seconds to wait for the last deliveries (180)")
    parser.add_argument("--json", action="store_true", help="print one JSON object of all figures last")
    options = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helios_e2e")
    common.setup_django(database_url, **ENV)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from django.db import connection

    from gateway.keys import create_key
    from tests.standins import EventGridSink, MotoServer, PubSubStandIn

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events_deliveryattempt, events_delivery, events_event, events_hourlystats, "
            "gateway_acceptedrequest, gateway_apievent, gateway_apikey, gateway_idempotentrequest, "
            "providers_providerruntime, providers_modechange, providers_providerconfig, django_q_ormq, "
            "django_q_task, helios_site_auditentry RESTART IDENTITY CASCADE"
        )
    moto, standin, sink = MotoServer(), PubSubStandIn(), EventGridSink()
    standin.topics.add("projects/helios-bench/topics/orders")
    moto.client("events").create_event_bus(Name="helios-bench")
    configs = list(common.standin_configs(moto, "helios-bench", standin, sink, mode="production").values())
    secret = create_key(name="bench-e2e", providers=configs, allow_production=True).secret
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    web, url = common.gunicorn("helios_site.wsgi", env)
    worker = common.start_worker(ROOT, env)
    figures: dict = {"cores": os.cpu_count(), "seconds": options.seconds, "batch": options.batch, "clouds": 3}
    try:
        time.sleep(3)  # the cluster's workers start
        figures["direct"] = direct(configs, options.direct_events, options.drain)
        print("direct", json.dumps(figures["direct"]), flush=True)
        rate = figures["direct"]["events_per_s"]
        run = {"seconds": options.seconds, "batch": options.batch, "drain": options.drain}
        figures["full"] = through_api(url, secret, configs, rate=rate, **run)
        print("full", json.dumps(figures["full"]), flush=True)
        figures["half"] = through_api(url, secret, configs, rate=rate / 2, **run)
        print("half", json.dumps(figures["half"]), flush=True)
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        common.stop_processes([worker])
        web.wait(timeout=30)
        moto.stop()
        standin.stop()
        sink.stop()
    figures["ratio_api_over_l2"] = round(figures["full"]["sustained_events_per_s"] / rate, 2) if rate else None
    half = figures["half"]
    figures["targets_met"] = {
        "api over L2 >= 0.8": (figures["ratio_api_over_l2"] or 0) >= 0.8,
        "added latency p50 <= 50 ms at half rate": (half["added_latency_p50_ms"] or 1e9) <= 50,
        "added latency p99 <= 250 ms at half rate": (half["added_latency_p99_ms"] or 1e9) <= 250,
        "0 lost": figures["full"]["lost"] == 0 and half["lost"] == 0,
    }
    print("targets", json.dumps(figures["targets_met"]))
    if options.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
