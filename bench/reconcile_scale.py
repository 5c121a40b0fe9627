"""Reconciliation at scale: N sent events against N receipts on PostgreSQL (a few missing,
duplicated, unexpected and out of order), its time and the process's peak memory, and the
console's reconciliation report page (and its findings list) at that size against its cost at
1,000.

    .venv/bin/python bench/reconcile_scale.py [--events 100000] [--json]

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helios_reconcile;
created if missing, its HELIOS tables emptied). Prints one JSON object on its last line with
--json: `seconds`, `peak_memory_mb` (the most memory Python held at once during a reconciliation,
traced by tracemalloc in a second run; the first is timed untraced), and
`page_ratio` (the report page at N over at 1,000).
"""

import argparse
import json
import os
import sys
import time
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup_django  # noqa: E402

#: Of every 1,000 events: this many never come back, come back twice, or come back out of order.
MISSING, DUPLICATED, OUT_OF_ORDER = 10, 5, 5


def load(config, n: int, start) -> None:
    """N events sent to `config` (succeeded) and their receipts, written with COPY."""
    from django.db import connection

    from events.models import Delivery, Event, Receipt

    def copy(model, columns: list[str], rows) -> None:
        table = connection.ops.quote_name(model._meta.db_table)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out,
        ):
            for row in rows:
                out.write_row(row)

    ids = [uuid.uuid4() for _ in range(n)]
    created = [start + timedelta(milliseconds=i) for i in range(n)]
    copy(
        Event,
        ["id", "type", "source", "subject", "data", "created_at", "cloudevent_id", "created_from"],
        ((ids[i], "OrderPlaced", "com.bench", f"orders/{i % 4999}", "{}", created[i], "", "bench") for i in range(n)),
    )
    copy(
        Delivery,
        [
            "event_id",
            "provider_id",
            "mode",
            "status",
            "attempts",
            "next_attempt_at",
            "provider_message_id",
            "last_error_code",
            "last_error",
            "created_at",
            "updated_at",
            "completed_at",
            "confirmed_at",
            "confirmed_via",
        ],
        (
            (
                ids[i],
                config.pk,
                "production",
                "succeeded",
                1,
                created[i],
                str(i),
                "",
                "",
                created[i],
                created[i],
                created[i],
                None if i % 1000 < MISSING else created[i] + timedelta(seconds=1),
                "" if i % 1000 < MISSING else "bench",
            )
            for i in range(n)
        ),
    )
    delivery_ids = dict(Delivery.objects.filter(provider=config).values_list("event_id", "pk"))

    def receipts():
        for i in range(n):
            if i % 1000 < MISSING:
                continue
            arrivals = 2 if i % 1000 < MISSING + DUPLICATED else 1
            # Out of order: arrives before the event sent just before it in its subject.
            shift = -6 if MISSING + DUPLICATED <= i % 1000 < MISSING + DUPLICATED + OUT_OF_ORDER else 0
            at = created[i] + timedelta(seconds=1 + shift)
            yield (
                config.pk,
                str(ids[i]),
                ids[i],
                delivery_ids[ids[i]],
                str(i),
                "bench",
                f"orders/{i % 4999}",
                at,
                at,
                arrivals,
                "{}",
            )
        for j in range(n // 1000):  # unexpected: not HELIOS events
            at = created[j]
            yield (config.pk, f"message:x-{j}", None, None, f"x-{j}", "bench", "", at, at, 1, "{}")

    copy(
        Receipt,
        [
            "provider_id",
            "key",
            "event_id",
            "delivery_id",
            "message_id",
            "subscription",
            "subject",
            "first_received_at",
            "last_received_at",
            "arrivals",
            "body",
        ],
        receipts(),
    )


def page_seconds(client, url: str, repeats: int = 5) -> float:
    """The best of a few loads of a console page (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="sent events and receipts (100000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object of all figures last")
    options = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helios_reconcile")
    setup_django(
        database_url,
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 60,
        ALLOWED_HOSTS="testserver",
        HELIOS_SSL_REDIRECT="false",
    )
    from django.conf import settings

    # Pages render without `collectstatic` (the manifest storage would want its manifest).
    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from events.services.reconcile import reconcile
    from providers.models import ProviderConfig

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events_reconciliationitem, events_reconciliationreport, events_receipt, events_deliveryattempt, "
            "events_delivery, events_event, providers_providerconfig RESTART IDENTITY CASCADE"
        )
    User.objects.filter(username="bench").delete()
    client = Client()
    client.force_login(User.objects.create_superuser("bench", "bench@example.com", "x"))
    figures: dict = {"cores": os.cpu_count(), "events": options.events}
    page, findings = {}, {}
    for size in (1000, options.events):
        config = ProviderConfig.objects.create(
            name=f"bench-{size}", kind="gcp_pubsub", gcp_project="helios-bench", gcp_topic="t"
        )
        start = timezone.now() - timedelta(hours=3)
        load(config, size, start)
        started = time.perf_counter()
        report = reconcile(provider=config, since=start - timedelta(minutes=1), grace_seconds=60)
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a second run, traced: the peak of what reconciliation holds at once
        reconcile(provider=config, since=start - timedelta(minutes=1), grace_seconds=60)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        page[size] = page_seconds(client, reverse("admin:events_reconciliationreport_change", args=[report.pk]))
        findings[size] = page_seconds(
            client, reverse("admin:events_reconciliationitem_changelist") + f"?report__id__exact={report.pk}"
        )
        print(
            f"{size:>7} events: reconcile {seconds:6.2f} s, peak Python memory {peak_mb:.1f} MB; "
            f"sent {report.sent}, received {report.received}, missing {report.missing}, duplicated "
            f"{report.duplicated}, unexpected {report.unexpected}, out of order {report.out_of_order}; "
            f"report page {page[size] * 1000:.0f} ms, its findings {findings[size] * 1000:.0f} ms",
            flush=True,
        )
        if size == options.events:
            figures.update(
                seconds=round(seconds, 2),
                peak_memory_mb=round(peak_mb, 1),
                report={
                    k: getattr(report, k)
                    for k in ("sent", "received", "missing", "duplicated", "unexpected", "out_of_order")
                },
            )
    figures["page_seconds"] = {str(size): round(value, 3) for size, value in page.items()}
    figures["page_ratio"] = round(page[options.events] / page[1000], 2)
    figures["findings_page_seconds"] = {str(size): round(value, 3) for size, value in findings.items()}
    figures["findings_page_ratio"] = round(findings[options.events] / findings[1000], 2)
    figures["targets_met"] = {
        "seconds <= 30": figures["seconds"] <= 30,
        "page at N <= 1.5 x at 1,000": figures["page_ratio"] <= 1.5,
    }
    print("targets", json.dumps(figures["targets_met"]))
    if options.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
