"""`manage.py purge`: remove history older than the retention policy (the daily schedule's job)."""

from typing import Any

from django.core.management.base import BaseCommand

from events.services.retention import purge


class Command(BaseCommand):
    help = "Remove events, attempts, receipts, reports and stats older than HELIOS_RETENTION_* (in batches)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = purge()
        removed = ", ".join(f"{n} {kind}" for kind, n in report.removed.items()) or "nothing"
        self.stdout.write(f"Removed {removed} in {report.batches} batches.")
