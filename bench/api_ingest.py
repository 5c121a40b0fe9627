"""How fast services can publish through HELIOS's API, against the ceiling of a bare Django view.

gunicorn as in the Procfile (WEB_CONCURRENCY workers, 3 by default) on PostgreSQL, `hey` (Debian's
HTTP load generator) on the same machine. Measured: single events and batches of 100, with the
providers named and through a route; accepted events/s and p50/p99 answer times at full load, and
p99 for single events at half of the measured maximum rate; against a bare Django view on the
same gunicorn that parses the same JSON and answers 202 without the database (the ceiling on this
machine), and one that also stores the body durably, one row in one transaction (the floor of
any front door that keeps each request before answering). Each run also says where the machine's
CPU went per request: the web processes, PostgreSQL's, and the rest (`hey`, the kernel).

    .venv/bin/python bench/api_ingest.py [--requests 3000] [--concurrency 16] [--rounds 3] [--json]

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helios_ingest; created
if missing, its HELIOS tables emptied) and `hey` (apt-get install hey). Demo providers: no cloud.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import FLOOR_TABLE, setup_django  # noqa: E402

ENVELOPE = {
    "type": "OrderPlaced",
    "source": "com.example.orders",
    "subject": "orders/o-1",
    "data": {"order_id": "o-1", "amount": 12.5, "lines": [{"sku": "A-1", "qty": 2}]},
}


def hey(url: str, body: Path, requests: int, concurrency: int, headers: dict[str, str], qps: float = 0) -> dict:
    """One `hey` run: requests/s, p50/p99 seconds, and the status codes seen."""
    command = [
        "hey",
        "-n",
        str(requests),
        "-c",
        str(concurrency),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-D",
        str(body),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if qps:
        command += ["-q", f"{qps / concurrency:.2f}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, timeout=900).stdout
    if "99% in" not in out:
        raise SystemExit(f"hey gave no latency distribution (every request failed?):\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentile = {p: float(re.search(rf"{p}% in ([\d.]+) secs", out).group(1)) for p in ("50", "99")}
    codes = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    return {"requests_per_s": rate, "p50_s": percentile["50"], "p99_s": percentile["99"], "codes": codes}


def postgres_processes() -> list[int]:
    """The PostgreSQL server's processes (its backends included) on this machine."""
    return [
        int(pid)
        for pid in os.listdir("/proc")
        if pid.isdigit() and common.process_title(int(pid)).startswith("postgres")
    ]


def measured(web: int, *args, **options) -> dict:
    """`hey(*args)`, with the CPU milliseconds per request of the web processes (the tree of
    `web`), of PostgreSQL, and of everything else on the machine (`hey`, the kernel)."""
    web_processes = common.process_tree(web)
    database = postgres_processes()
    before = (common.cpu_seconds(web_processes), common.cpu_seconds(database), common.machine_cpu_seconds())
    figures = hey(*args, **options)
    after = (
        common.cpu_seconds(web_processes),
        common.cpu_seconds(sorted(set(database) | set(postgres_processes()))),
        common.machine_cpu_seconds(),
    )
    requests = sum(int(count) for count in figures["codes"].values()) or 1
    web_ms, database_ms, machine_ms = ((a - b) * 1000 / requests for a, b in zip(after, before, strict=True))
    figures["cpu_ms_per_request"] = {
        "web": round(web_ms, 2),
        "database": round(database_ms, 2),
        "rest": round(max(machine_ms - web_ms - database_ms, 0), 2),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--requests",
        type=int,
        default=3000,
        help="single-event requests per kind over all rounds (3000; batches a tenth)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every kind, interleaved (3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object of all figures last")
    options = parser.parse_args()
    if not shutil.which("hey"):
        raise SystemExit("bench/api_ingest.py needs `hey`: apt-get install hey")
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helios_ingest")
    setup_django(database_url, DEBUG="false", SECRET_KEY="bench-" + "x" * 60, ALLOWED_HOSTS="127.0.0.1")
    from django.db import connection

    from events.models import Route
    from gateway.keys import create_key
    from providers.models import ProviderConfig
    from providers.startup import bootstrap_demo_providers

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events_delivery, events_deliveryattempt, events_event, events_hourlystats, events_route, "
            "gateway_apikey, gateway_idempotentrequest, providers_providerconfig, django_q_ormq, "
            "helios_site_auditentry RESTART IDENTITY CASCADE"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, body jsonb NOT NULL, "
            "stored_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute(f"TRUNCATE {FLOOR_TABLE}")
    bootstrap_demo_providers()
    targets = list(ProviderConfig.objects.filter(name__in=["aws-demo", "gcp-demo"]))
    secret = create_key(name="bench", providers=targets).secret
    route = Route.objects.create(name="bench-orders", filter={"prefix": {"type": "Order"}})
    route.providers.set(targets)
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING", "HELIOS_SSL_REDIRECT": "false"}
    auth = {"Authorization": f"Bearer {secret}"}
    named = {**ENVELOPE, "providers": ["aws-demo", "gcp-demo"]}
    figures: dict = {"cores": os.cpu_count(), "requests": options.requests, "concurrency": options.concurrency}
    with tempfile.TemporaryDirectory() as folder:
        bodies = {}
        for name, value in {
            "single": named,
            "single_routed": ENVELOPE,
            "batch": [named] * 100,
            "batch_routed": [ENVELOPE] * 100,
        }.items():
            bodies[name] = Path(folder) / f"{name}.json"
            bodies[name].write_text(json.dumps(value))
        process, url = common.gunicorn("bench.ceiling_wsgi", env)
        web = process.pid
        try:
            # Every kind in each round, the rounds one after another: a slow moment of the
            # machine hits every kind alike; each kind's figure is its median round.
            kinds = {
                "ceiling": (f"{url}/bench/ceiling", "single", options.requests, {}),
                "durable_floor": (f"{url}/bench/floor", "single", options.requests, {}),
                "single": (f"{url}/api/v1/events", "single", options.requests, auth),
                "single_routed": (f"{url}/api/v1/events", "single_routed", options.requests, auth),
                "batch": (f"{url}/api/v1/events", "batch", max(options.requests // 10, 200), auth),
                "batch_routed": (f"{url}/api/v1/events", "batch_routed", max(options.requests // 10, 200), auth),
            }
            rounds: dict[str, list[dict]] = {name: [] for name in kinds}
            for _ in range(options.rounds):
                for name, (target, body, requests, headers) in kinds.items():
                    per_round = max(requests // options.rounds, 200)  # fewer and `hey` prints no p99
                    rounds[name].append(measured(web, target, bodies[body], per_round, options.concurrency, headers))
            for name, runs in rounds.items():
                figures[name] = sorted(runs, key=lambda run: run["requests_per_s"])[len(runs) // 2]
                figures[name]["rounds_requests_per_s"] = [run["requests_per_s"] for run in runs]
                events = 100 if name.startswith("batch") else 1
                if name not in ("ceiling", "durable_floor"):
                    figures[name]["events_per_s"] = round(figures[name]["requests_per_s"] * events, 1)
            ceiling = figures["ceiling"]
            half = figures["single"]["requests_per_s"] / 2
            figures["single_at_half_rate"] = measured(
                web,
                f"{url}/api/v1/events",
                bodies["single"],
                options.requests // 2,
                options.concurrency,
                auth,
                qps=half,
            )
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    figures["ratio_single_over_ceiling"] = round(figures["single"]["requests_per_s"] / ceiling["requests_per_s"], 2)
    figures["ratio_floor_over_ceiling"] = round(
        figures["durable_floor"]["requests_per_s"] / ceiling["requests_per_s"], 2
    )
    figures["targets_met"] = {
        "single >= 0.5 of the ceiling": figures["ratio_single_over_ceiling"] >= 0.5,
        "batches >= 10000 events/s": figures["batch"]["events_per_s"] >= 10000,
        "p99 <= 100 ms at half the max rate": figures["single_at_half_rate"]["p99_s"] <= 0.1,
    }
    for name in ("ceiling", "durable_floor", "single", "single_routed", "batch", "batch_routed", "single_at_half_rate"):
        f = figures[name]
        events = f.get("events_per_s", f["requests_per_s"])
        cpu = f["cpu_ms_per_request"]
        print(
            f"{name:<22} {f['requests_per_s']:>9.1f} req/s  {events:>9.1f} events/s  "
            f"p50 {f['p50_s'] * 1000:6.1f} ms  p99 {f['p99_s'] * 1000:6.1f} ms  "
            f"CPU ms/request web {cpu['web']:5.2f} database {cpu['database']:5.2f} rest {cpu['rest']:5.2f}  "
            f"codes {f['codes']}"
        )
    print("targets", json.dumps(figures["targets_met"]))
    if options.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
