"""manage.py rebuild_stats: recompute the dashboard's hourly figures from the delivery history."""

from django.core.management.base import BaseCommand

from events.stats import rebuild_hourly_stats


class Command(BaseCommand):
    help = "Recompute the dashboard's hourly figures (HourlyStats) from the deliveries, e.g. after an import."

    def handle(self, *args: object, **options: object) -> None:
        rows = rebuild_hourly_stats()
        self.stdout.write(f"{rows} hourly rows written.")
