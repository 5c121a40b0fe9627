"""`manage.py reconcile`: compare what was sent to a provider config with what came back."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events.models import ReconciliationKind
from events.services.healing import heal, healing_words
from events.services.reconcile import reconcile, retry_missing
from providers.kinds import spec_for
from providers.models import ProviderConfig, ReceiverSettings

DURATION = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def moment(value: str) -> datetime:
    """`24h`, `90m`, `7d` ago, or an ISO 8601 date-time (UTC when it has no offset)."""
    found = DURATION.match(value)
    if found:
        return timezone.now() - timedelta(**{UNITS[found[2]]: int(found[1])})
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"{value!r} is neither a duration (24h, 90m, 7d) nor an ISO date-time.", returncode=2)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _with_receiver() -> list[str]:
    return list(ProviderConfig.objects.filter(receiver__isnull=False).order_by("name").values_list("name", flat=True))


class Command(BaseCommand):
    help = (
        "Reconcile a provider config: events sent in the window but not received back (missing), "
        "received twice (duplicated), received but never sent here (unexpected), or out of order. "
        "The config's healing policy applies, as after the scheduled run (--retry-missing resends "
        "instead). Exit status 0 when the window is clean, 1 when anything was found, 2 on bad "
        "arguments or a config without a receiver."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", required=True, action="append", help="Config name (repeatable).")
        parser.add_argument("--since", default="24h", help="Window start: 24h, 90m, 7d or ISO (default 24h).")
        parser.add_argument("--until", help="Window end (default now).")
        parser.add_argument("--grace", type=int, help="Seconds an event may take to come back (default: config's).")
        parser.add_argument("--retry-missing", action="store_true", help="Send the missing events again.")

    def handle(self, *args: Any, **options: Any) -> None:
        configs = []
        for name in options["provider"]:
            config = ProviderConfig.objects.filter(name=name).first()
            if config is None:
                raise CommandError(f"No provider config named {name!r}.", returncode=2)
            if not spec_for(config.kind).round_trip:
                raise CommandError(
                    f"{name} is {config.get_kind_display()}: nothing comes back from it to compare with "
                    "(no round trip). Reconcile a config that has a receiver"
                    + (f": {', '.join(with_receiver)}." if (with_receiver := _with_receiver()) else "."),
                    returncode=2,
                )
            if not ReceiverSettings.objects.filter(provider=config).exists():
                raise CommandError(
                    f"{name} has no receiver: nothing comes back to compare with. Set one up on the config's "
                    "page (Round trip), or reconcile a config that has one"
                    + (f": {', '.join(with_receiver)}." if (with_receiver := _with_receiver()) else "."),
                    returncode=2,
                )
            configs.append(config)
        since, until = moment(options["since"]), moment(options["until"]) if options["until"] else None
        found_any = False
        for config in configs:
            report = reconcile(provider=config, since=since, until=until, grace_seconds=options["grace"])
            self.stdout.write(
                f"{config.name}: report #{report.pk}, {report.window_start:%Y-%m-%d %H:%M} to "
                f"{report.window_end:%Y-%m-%d %H:%M} UTC: {report.sent} sent, {report.received} received; "
                f"{report.missing} missing, {report.duplicated} duplicated, {report.unexpected} unexpected, "
                f"{report.out_of_order} out of order"
            )
            for item in report.items.all()[:50]:
                self.stdout.write(f"  {ReconciliationKind(item.kind).name.lower():<12} {item.key}  {item.detail}")
            if report.window_note:
                self.stdout.write(f"  {report.window_note}")
            if options["retry_missing"] and report.missing:
                self.stdout.write(f"  {retry_missing(report=report)} missing events will be sent again.")
            elif words := healing_words(report, heal(report)):
                self.stdout.write(f"  {words}")
            found_any = found_any or not report.clean_result
        if found_any:
            raise SystemExit(1)
