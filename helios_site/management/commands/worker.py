"""`manage.py worker`: the delivery worker (a django-q2 cluster) under HELIOS's watchdog."""

from typing import Any

from django.core.management.base import BaseCommand

from helios_site.worker_supervisor import EXIT_STALLED, run_worker


class Command(BaseCommand):
    help = (
        "Run the delivery worker: a django-q2 cluster that HELIOS watches. A cluster that can no "
        f"longer take tasks is ended whole and this command exits with status {EXIT_STALLED}, for "
        "the process supervisor to start a fresh one. SIGTERM stops it within HELIOS_WORKER_STOP_SECONDS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        raise SystemExit(run_worker())
