"""Hourly delivery figures per provider config (HourlyStats): kept as deliveries are created and
finish, read by the dashboard, rebuilt from the history when needed."""

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncHour

from .models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus, HourlyStats

#: Upper bounds (ms) of the latency histogram's buckets; one more bucket holds anything slower.
LATENCY_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
BUCKETS = len(LATENCY_BOUNDS_MS) + 1


def hour_of(moment: datetime) -> datetime:
    """The start of the moment's hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


def bucket_of(latency_ms: int) -> int:
    """The histogram bucket a latency falls in (a bucket includes its upper bound)."""
    return bisect.bisect_left(LATENCY_BOUNDS_MS, latency_ms)


def add(
    *,
    provider_id: int,
    at: datetime,
    created: int = 0,
    succeeded: int = 0,
    failed: int = 0,
    latencies_ms: Iterable[int] = (),
    attempts: int = 0,
    attempts_failed: int = 0,
) -> None:
    """Add to the provider's figures for the hour of `at` (a row lock: concurrent writers queue)."""
    latencies_ms = list(latencies_ms)
    counts = Counter(bucket_of(ms) for ms in latencies_ms)
    if not (created or succeeded or failed or counts or attempts):
        return
    with transaction.atomic():
        row = _locked_row(provider_id, hour_of(at))
        buckets = (row.latency_buckets or []) + [0] * (BUCKETS - len(row.latency_buckets or []))
        for bucket, n in counts.items():
            buckets[bucket] += n
        row.created += created
        row.succeeded += succeeded
        row.failed += failed
        row.latency_buckets = buckets
        row.latency_sum_ms += sum(latencies_ms)
        row.attempts += attempts
        row.attempts_failed += attempts_failed
        row.save(
            update_fields=[
                "created",
                "succeeded",
                "failed",
                "latency_buckets",
                "latency_sum_ms",
                "attempts",
                "attempts_failed",
            ]
        )


def count_created(provider_ids: Iterable[int], *, at: datetime, created: int) -> None:
    """Add `created` deliveries to each provider's figures for the hour of `at`: one statement
    for all of them (an upsert: the publish path's only rollup write)."""
    rows = [(provider_id, hour_of(at)) for provider_id in provider_ids]
    if not rows or not created:
        return
    table = connection.ops.quote_name(HourlyStats._meta.db_table)
    hour = connection.ops.adapt_datetimefield_value(hour_of(at))
    values = ", ".join(["(%s, %s, %s, 0, 0, '[]', 0, 0, 0)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (provider_id, hour, created, succeeded, failed, latency_buckets, latency_sum_ms, "
            f"attempts, attempts_failed) VALUES {values} "
            f"ON CONFLICT (provider_id, hour) DO UPDATE SET created = {table}.created + EXCLUDED.created",
            [value for provider_id, _ in rows for value in (provider_id, hour, created)],
        )


def remove_finished(
    *, provider_id: int, at: datetime, succeeded: int = 0, failed: int = 0, latencies_ms: Iterable[int] = ()
) -> None:
    """Take deliveries that had finished at `at` out of that hour's figures (they are open again).
    Never below zero: a rollup that missed them (history written around the services) stays usable."""
    latencies_ms = list(latencies_ms)
    if not (succeeded or failed or latencies_ms):
        return
    with transaction.atomic():
        row = _locked_row(provider_id, hour_of(at))
        buckets = (row.latency_buckets or []) + [0] * (BUCKETS - len(row.latency_buckets or []))
        for ms in latencies_ms:
            buckets[bucket_of(ms)] = max(buckets[bucket_of(ms)] - 1, 0)
        row.succeeded = max(row.succeeded - succeeded, 0)
        row.failed = max(row.failed - failed, 0)
        row.latency_buckets = buckets
        row.latency_sum_ms = max(row.latency_sum_ms - sum(latencies_ms), 0)
        row.save(update_fields=["succeeded", "failed", "latency_buckets", "latency_sum_ms"])


def _locked_row(provider_id: int, hour: datetime) -> HourlyStats:
    found = HourlyStats.objects.select_for_update().filter(provider_id=provider_id, hour=hour).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return HourlyStats.objects.create(provider_id=provider_id, hour=hour, latency_buckets=[0] * BUCKETS)
    except IntegrityError:  # another writer created it first
        return HourlyStats.objects.select_for_update().get(provider_id=provider_id, hour=hour)


def percentile(buckets: Sequence[int], share: float) -> int | None:
    """The latency (ms) below which `share` of the successes fall, interpolated within its bucket;
    for the open-ended last bucket, its lower bound. None without successes."""
    total = sum(buckets)
    if not total:
        return None
    rank = share * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            lower = LATENCY_BOUNDS_MS[index - 1] if index else 0
            if index >= len(LATENCY_BOUNDS_MS):
                return lower
            return round(lower + (LATENCY_BOUNDS_MS[index] - lower) * (rank - seen) / count)
        seen += count
    return LATENCY_BOUNDS_MS[-1]


def rebuild_hourly_stats() -> int:
    """Recompute every HourlyStats row from the deliveries (after an upgrade or a bulk import);
    returns how many rows were written."""
    rows: dict[tuple[int, datetime], dict] = defaultdict(
        lambda: {"created": 0, "succeeded": 0, "failed": 0, "attempts": 0, "attempts_failed": 0}
    )
    created = Delivery.objects.annotate(at=TruncHour("created_at")).values("provider_id", "at").annotate(n=Count("id"))
    for row in created.order_by():
        rows[(row["provider_id"], row["at"])]["created"] = row["n"]
    finished = (
        Delivery.objects.filter(completed_at__isnull=False)
        .annotate(at=TruncHour("completed_at"))
        .values("provider_id", "at")
        .annotate(
            succeeded=Count("id", filter=Q(status=DeliveryStatus.SUCCEEDED)),
            failed=Count("id", filter=Q(status__in=[DeliveryStatus.FAILED, DeliveryStatus.DEAD])),
        )
    )
    for row in finished.order_by():
        rows[(row["provider_id"], row["at"])].update(succeeded=row["succeeded"], failed=row["failed"])
    attempts = (
        DeliveryAttempt.objects.annotate(at=TruncHour("finished_at"))
        .values("delivery__provider_id", "at")
        .annotate(n=Count("id"), failed=Count("id", filter=~Q(outcome=AttemptOutcome.SUCCEEDED)))
    )
    for row in attempts.order_by():
        rows[(row["delivery__provider_id"], row["at"])].update(attempts=row["n"], attempts_failed=row["failed"])
    buckets: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0] * BUCKETS)
    sums: dict[tuple[int, datetime], int] = defaultdict(int)
    latencies = (
        Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED, latency_ms__isnull=False, completed_at__isnull=False)
        .annotate(at=TruncHour("completed_at"))
        .values("provider_id", "at", "latency_ms")
        .annotate(n=Count("id"))
    )
    for row in latencies.order_by():
        buckets[(row["provider_id"], row["at"])][bucket_of(row["latency_ms"])] += row["n"]
        sums[(row["provider_id"], row["at"])] += row["latency_ms"] * row["n"]
    with transaction.atomic():
        HourlyStats.objects.all().delete()
        HourlyStats.objects.bulk_create(
            [
                HourlyStats(
                    provider_id=provider_id,
                    hour=hour,
                    latency_buckets=buckets[(provider_id, hour)],
                    latency_sum_ms=sums[(provider_id, hour)],
                    **figures,
                )
                for (provider_id, hour), figures in rows.items()
            ],
            batch_size=1000,
        )
    return len(rows)
