"""HELIOS console pages at 10,000 and at 1,000,000 deliveries, two PostgreSQL databases side by side.

Seeds two databases the way a busy month looks (three demo provider configs, one event per three
deliveries spread over 30 days, ~90 % succeeded, the rest failed, dead, retrying or pending, one
attempt per delivery): a small one with 10,000 deliveries and a large one with 1,000,000. Then it
times these pages through Django's test client (view, queries and template, no network),
interleaved page by page: small, large, large, small, ... so a slow moment of the machine hits
both sizes alike:

  changelist   the delivery history, first page
  filtered     the history filtered on one provider and two statuses (failed, dead)
  search       the history searched by an event id
  event        one event's page
  dashboard    the 24-hour dashboard

It prints each page's median at both sizes and the ratio large/small (target <= 1.5), and with
--json one JSON object of all figures on its last line.

    .venv/bin/python bench/admin_scale.py [--rows 1000000] [--small 10000] [--repeats 15] [--json]

Needs PostgreSQL (--database-url, default postgres://postgres@127.0.0.1:5432/helios_admin_bench;
the small database is the same name with "_small"; both are created if missing and their HELIOS
tables emptied).
"""

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import setup_django  # noqa: E402

PROVIDERS_PER_EVENT = 3
SPREAD_DAYS = 30
TARGET_RATIO = 1.5


def reset() -> None:
    from django.db import connection

    from providers.startup import bootstrap_demo_providers

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events_deliveryattempt, events_delivery, events_event, events_bulkupload, "
            "django_q_ormq, django_q_task, providers_providerruntime, providers_modechange, "
            "providers_providerconfig, helios_site_auditentry RESTART IDENTITY CASCADE"
        )
    bootstrap_demo_providers()


def seed(events_from: int, events_to: int) -> None:
    """Events numbered [events_from, events_to), three deliveries and attempts each, in SQL."""
    from django.db import connection

    from events.stats import rebuild_hourly_stats

    span = SPREAD_DAYS * 86400
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO events_event (id, type, source, subject, data, created_at, cloudevent_id, created_from)
            SELECT gen_random_uuid(),
                   (ARRAY['OrderPlaced','PaymentProcessed','OrderShipped','RefundIssued'])[1 + i %% 4],
                   'com.example.shop', 'orders/o-' || i,
                   jsonb_build_object('order_id', 'o-' || i, 'amount', (i %% 500) + 0.5, 'currency', 'EUR'),
                   now() - make_interval(secs => (hashint4(i)::bigint & 2147483647) %% %s), '', 'CLI'
            FROM generate_series(%s, %s - 1) AS i
            """,
            [span, events_from, events_to],
        )
        cursor.execute(
            """
            WITH new_events AS (
                -- roll: 0-919 succeeded, 920-959 failed, 960-979 dead, 980-1023 still open if the
                -- event is from the last 24 hours (retrying or pending), else dead (retries end within a day)
                SELECT id, created_at, hashint4(hashtext(id::text)) & 1023 AS roll,
                       created_at > now() - interval '1 day' AS recent
                FROM events_event e WHERE NOT EXISTS (SELECT 1 FROM events_delivery d WHERE d.event_id = e.id)
            )
            INSERT INTO events_delivery (event_id, provider_id, mode, status, attempts, next_attempt_at,
                provider_message_id, last_error_code, last_error, latency_ms, created_at, updated_at, completed_at,
                confirmed_via)
            SELECT e.id, p.id, 'demo',
                   CASE WHEN e.roll < 920 THEN 'succeeded' WHEN e.roll < 960 THEN 'failed'
                        WHEN e.roll < 980 OR NOT e.recent THEN 'dead'
                        WHEN e.roll < 1000 THEN 'retrying' ELSE 'pending' END,
                   CASE WHEN e.roll < 920 THEN 1 WHEN e.roll < 1000 OR NOT e.recent THEN 3 ELSE 0 END,
                   CASE WHEN e.roll >= 980 AND e.recent THEN e.created_at END,
                   CASE WHEN e.roll < 920 THEN gen_random_uuid()::text ELSE '' END,
                   CASE WHEN e.roll < 920 OR (e.roll >= 1000 AND e.recent) THEN ''
                        WHEN e.roll < 960 THEN 'ValidationException' ELSE 'ThrottlingException' END,
                   CASE WHEN e.roll < 920 OR (e.roll >= 1000 AND e.recent) THEN '' ELSE 'simulated' END,
                   CASE WHEN e.roll < 920 THEN 20 + e.roll % 200 END,
                   e.created_at, e.created_at,
                   CASE WHEN e.roll < 980 OR NOT e.recent THEN e.created_at + interval '1 second' END,
                   ''
            FROM new_events e CROSS JOIN providers_providerconfig p
            """
        )
        cursor.execute(
            """
            INSERT INTO events_deliveryattempt (delivery_id, number, mode, started_at, finished_at, outcome,
                error_code, error_message, provider_message_id, status_code, request_body, response_body)
            SELECT d.id, 1, d.mode, d.created_at, d.created_at + interval '20 milliseconds',
                   CASE WHEN d.status = 'succeeded' THEN 'succeeded' WHEN d.status = 'failed'
                        THEN 'permanent_error' ELSE 'retryable_error' END,
                   d.last_error_code, d.last_error, d.provider_message_id, 200, '', ''
            FROM events_delivery d
            WHERE d.status <> 'pending'
              AND NOT EXISTS (SELECT 1 FROM events_deliveryattempt a WHERE a.delivery_id = d.id)
            """
        )
        cursor.execute("ANALYZE")
    rebuild_hourly_stats()


def pages() -> dict[str, str]:
    from django.urls import reverse

    from events.models import Delivery, Event
    from providers.models import ProviderConfig

    history = reverse("admin:events_delivery_changelist")
    provider = ProviderConfig.objects.order_by("name").first()
    event = Event.objects.order_by("created_at")[Event.objects.count() // 2 :].first()
    assert Delivery.objects.filter(event=event).exists()
    return {
        "changelist": history,
        "filtered": f"{history}?provider__id__exact={provider.pk}&statuses=failed,dead",
        "search": f"{history}?q={event.pk}",
        "event": reverse("admin:events_event_change", args=[event.pk]),
        "dashboard": reverse("admin:events_dashboard"),
    }


@contextlib.contextmanager
def database(wrapper) -> Iterator[None]:
    """Run everything inside on one of the two databases: Django's default connection is swapped."""
    from django.db import connections

    previous = connections["default"]
    connections["default"] = wrapper
    try:
        yield
    finally:
        connections["default"] = previous


def second_database(name: str):
    """A connection to another database of the same server, as Django's default (created if missing)."""
    import psycopg
    from django.db import connections

    default = connections["default"]
    with psycopg.connect(dbname="postgres", **_libpq_params(default.settings_dict), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    return type(default)({**default.settings_dict, "NAME": name}, "default")


def _libpq_params(settings_dict: dict) -> dict:
    params = {"host": settings_dict["HOST"], "user": settings_dict["USER"], "password": settings_dict["PASSWORD"]}
    if settings_dict["PORT"]:
        params["port"] = settings_dict["PORT"]
    return params


def timed_get(client, url: str) -> float:
    """Milliseconds for one request of a page that must answer 200."""
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def measure_side_by_side(small: "Side", large: "Side", repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median milliseconds per page on each database, requests interleaved (after one warm-up each)."""
    urls = {}
    for side in (small, large):
        with database(side.connection):
            urls[side] = pages()
    medians: dict[Side, dict[str, float]] = {small: {}, large: {}}
    for name in urls[small]:
        times: dict[Side, list[float]] = {small: [], large: []}
        order = [small, large]
        for _ in range(repeats + 1):
            for side in order:
                with database(side.connection):
                    times[side].append(timed_get(side.client, urls[side][name]))
            order.reverse()  # small, large, large, small, ...: neither size always goes first
        for side in (small, large):
            medians[side][name] = round(statistics.median(times[side][1:]), 1)
    return medians[small], medians[large]


@dataclasses.dataclass(frozen=True)
class Side:
    """One of the two databases and a test client logged in to it."""

    connection: object
    client: object


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="deliveries in the large database (1000000)")
    parser.add_argument("--small", type=int, default=10_000, help="deliveries in the small database (10000)")
    parser.add_argument("--repeats", type=int, default=15, help="requests per page and size (15)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helios_admin_bench"),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object of all figures last")
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's response.context, ALLOWED_HOSTS for testserver
    large_db = connections["default"]
    small_db = second_database(large_db.settings_dict["NAME"] + "_small")
    sides = []
    for wrapper, deliveries in ((small_db, args.small), (large_db, args.rows)):
        started = time.monotonic()
        with database(wrapper):
            call_command("migrate", verbosity=0)
            reset()
            user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True, "is_superuser": True})
            client = Client()
            client.force_login(user)  # the session lives in this database
            seed(0, deliveries // PROVIDERS_PER_EVENT)
        sides.append(Side(wrapper, client))
        print(f"{deliveries:>9,} deliveries seeded in {time.monotonic() - started:.0f} s", flush=True)

    small, large = measure_side_by_side(*sides, args.repeats)
    print(f"{args.small:>9,} deliveries, median ms:", json.dumps(small))
    print(f"{args.rows:>9,} deliveries, median ms:", json.dumps(large))
    ratios = {name: round(large[name] / small[name], 2) for name in small}
    print("ratio large/small:", json.dumps(ratios))
    print(f"target ratio <= {TARGET_RATIO} met:", json.dumps({name: r <= TARGET_RATIO for name, r in ratios.items()}))
    if args.json:
        summary = {"cores": os.cpu_count(), "small_rows": args.small, "large_rows": args.rows, "interleaved": True}
        print(json.dumps({**summary, "median_ms_small": small, "median_ms_large": large, "ratios": ratios}))


if __name__ == "__main__":
    main()
