"""Exports: deliveries as CSV or JSON Lines and reconciliation findings as CSV, streamed (memory
stays flat at any size), spreadsheet-safe, and audited before the first line is produced."""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.models import AuditAction

from ..models import Delivery, ReconciliationItem
from ..selectors import EXPORT_COLUMNS, export_rows
from ..streaming import csv_lines

FINDING_COLUMNS = ["report", "provider", "kind", "key", "delivery_id", "receipt_id", "detail"]


@dataclass(frozen=True)
class Export:
    """What to stream: the lines, their content type and a file name."""

    lines: Iterator[str]
    content_type: str
    filename: str


def export_deliveries(deliveries: QuerySet[Delivery], *, fmt: str, actor: Actor, filters: str) -> Export:
    """The chosen deliveries as "csv" or "jsonl" ("select all" exports the whole filtered set)."""
    audit.record(
        actor=actor,
        action=AuditAction.EXPORT,
        target=f"{fmt} export",
        summary=f"Exported deliveries as {fmt}",
        details={"filters": filters},
    )
    rows = export_rows(deliveries)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        return Export(csv_lines(EXPORT_COLUMNS, rows), "text/csv; charset=utf-8", f"helios-deliveries-{stamp}.csv")
    lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return Export(lines, "application/x-ndjson", f"helios-deliveries-{stamp}.jsonl")


def export_findings(report_ids: Sequence[int], *, actor: Actor) -> Export:
    """The findings of the chosen reconciliation reports as CSV."""
    audit.record(
        actor=actor,
        action=AuditAction.EXPORT,
        target="reconciliation findings",
        summary=f"Exported the findings of {len(report_ids)} reconciliation report(s)",
        details={"reports": list(report_ids)[:100]},
    )
    rows = (
        ReconciliationItem.objects.filter(report_id__in=report_ids)
        .order_by("report_id", "kind", "id")
        .values_list("report_id", "report__provider__name", "kind", "key", "delivery_id", "receipt_id", "detail")
        .iterator(chunk_size=2000)
    )
    lines = csv_lines(FINDING_COLUMNS, (dict(zip(FINDING_COLUMNS, row, strict=True)) for row in rows))
    return Export(lines, "text/csv; charset=utf-8", "helios-reconciliation.csv")
