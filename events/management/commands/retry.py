"""`manage.py retry`: give failed, dead or retrying deliveries one more attempt now."""

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.models import Delivery, DeliveryStatus
from events.services.operator import retry_now, retry_outcome


class Command(BaseCommand):
    help = "Retry deliveries now: by id, by event, or every failed/dead one of a provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("delivery_ids", nargs="*", type=int, metavar="DELIVERY_ID")
        parser.add_argument("--event", action="append", default=[], help="Every delivery of this event id.")
        parser.add_argument("--provider", help="Every delivery of this provider config with --status.")
        parser.add_argument(
            "--status",
            action="append",
            choices=["failed", "dead", "retrying"],
            help="With --provider (repeatable; default failed and dead).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = Delivery.objects.none()
        if options["delivery_ids"]:
            chosen |= Delivery.objects.filter(pk__in=options["delivery_ids"])
        for event_id in options["event"]:
            try:
                chosen |= Delivery.objects.filter(event_id=uuid.UUID(event_id))
            except ValueError:
                raise CommandError(f"--event {event_id!r} is not an event id (a UUID).", returncode=2) from None
        if options["provider"]:
            statuses = options["status"] or [DeliveryStatus.FAILED, DeliveryStatus.DEAD]
            chosen |= Delivery.objects.filter(provider__name=options["provider"], status__in=statuses)
        if not (options["delivery_ids"] or options["event"] or options["provider"]):
            raise CommandError("Name deliveries: DELIVERY_ID..., --event ID or --provider NAME.", returncode=2)
        provider_ids = set(chosen.order_by().values_list("provider_id", flat=True).distinct())
        count = retry_now(deliveries=chosen)
        for sentence in retry_outcome(count, provider_ids):
            self.stdout.write(sentence)
