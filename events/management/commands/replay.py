"""`manage.py replay`: send a window of events again (same event ids) to provider configs.

    manage.py replay --since 2026-11-28T09:00 --until 2026-11-28T10:00 [--type T] [--source S]
        [--subject-prefix P] [--provider NAME] [--status S] [--route R] --to NAME [--to NAME]
        [--rate 50] [--dry-run] [--yes] [--wait]

--since/--until take an ISO 8601 time (UTC unless it says otherwise) or an age ("90m", "2h",
"7d" ago). --provider/--status/--route choose events by one of their deliveries (its config, its
status, its route); --to is where they go again.

Exit status: 0 when the replay was queued (or, with --wait, finished; a dry run: always), 1 when
it was cancelled or failed while waited for, 2 on bad arguments or a refusal, nothing created.
A production target needs the production configs' names typed on a terminal, or --yes.
"""

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.audit import Actor
from core.badges import plural
from events.models import DeliveryStatus, Replay, ReplayState
from events.services.replay import ReplayFilter, dry_run, start_replay
from events.services.validation import PublishRejected
from providers.models import ProviderConfig
from providers.production import ProductionGrant

from ..production_prompt import production_confirmation
from .publish import quiet_library_logs

AGE = re.compile(r"^(\d+)([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def moment(value: str, what: str) -> datetime:
    """An ISO 8601 time (naive: UTC) or an age such as 2h; CommandError (exit 2) otherwise."""
    if found := AGE.match(value.strip()):
        return timezone.now() - timedelta(**{UNITS[found[2]]: int(found[1])})
    parsed = parse_datetime(value.strip())
    if parsed is None:
        raise CommandError(
            f"{what} '{value}': give an ISO 8601 time (2026-11-28T09:00) or an age (90m, 2h, 7d).", returncode=2
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Send a window of events again, with the same event ids, to provider configs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="Start of the window: ISO 8601, or an age (2h).")
        parser.add_argument("--until", help="End of the window (default: now).")
        parser.add_argument("--type", default="", help="Only events of this type.")
        parser.add_argument("--source", default="", help="Only events from this source.")
        parser.add_argument("--subject-prefix", default="", help="Only events whose subject starts so.")
        parser.add_argument("--provider", default="", help="Only events with a delivery to this config.")
        parser.add_argument("--status", default="", choices=["", *DeliveryStatus.values], help="…with this status.")
        parser.add_argument("--route", default="", help="…made by this route.")
        parser.add_argument("--to", action="append", default=[], metavar="NAME", help="Send to this config (repeat).")
        parser.add_argument("--rate", type=int, default=50, help="Events a second (default 50).")
        parser.add_argument("--dry-run", action="store_true", help="Count and show a sample; send nothing.")
        parser.add_argument("--yes", action="store_true", help="Confirm a production target without asking.")
        parser.add_argument("--wait", action="store_true", help="Wait until the replay has finished.")
        parser.add_argument("--timeout", type=float, default=600.0, help="Seconds to wait with --wait (600).")

    def handle(self, *args: Any, **options: Any) -> None:
        quiet_library_logs()
        choice = ReplayFilter(
            since=moment(options["since"], "--since"),
            until=moment(options["until"], "--until") if options["until"] else timezone.now(),
            event_type=options["type"],
            source=options["source"],
            subject_prefix=options["subject_prefix"],
            provider=options["provider"],
            status=options["status"],
            route=options["route"],
        )
        targets = [] if options["dry_run"] else self.targets(options["to"])
        count, sample = dry_run(choice)
        self.stdout.write(f"{plural(count, 'event')} match: {choice.describe()}.")
        for event in sample:
            when = f"{event.created_at:%Y-%m-%d %H:%M:%S}"
            self.stdout.write(f"  {event.id}  {when}  {event.type}  {event.subject or '-'}")
        if count > len(sample):
            self.stdout.write(f"  … and {count - len(sample):,} more")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was sent.")
            return
        confirmation = production_confirmation(
            targets, assume_yes=options["yes"], sends="replays", nothing="Nothing was replayed."
        )
        try:
            replay = start_replay(
                choice,
                targets,
                rate_per_second=options["rate"],
                grant=ProductionGrant.typed(confirmation),
                actor=Actor(),
            )
        except PublishRejected as rejected:
            raise CommandError("Nothing was replayed:\n  " + "\n  ".join(rejected.errors), returncode=2) from None
        self.stdout.write(
            f"Replay #{replay.pk} queued: {plural(count, 'event')} to {', '.join(t.name for t in targets)} "
            f"at {replay.rate_per_second} a second. Cancel it in the console (Events > Replays)."
        )
        if options["wait"]:
            self.wait(replay, timeout=options["timeout"])

    def targets(self, names: list[str]) -> list[ProviderConfig]:
        if not names:
            raise CommandError("Say where to send them again: --to NAME (repeat for more).", returncode=2)
        found = {c.name: c for c in ProviderConfig.objects.filter(name__in=names)}
        if unknown := [name for name in names if name not in found]:
            raise CommandError(f"Unknown provider config(s): {', '.join(unknown)}. Nothing was replayed.", returncode=2)
        return [found[name] for name in dict.fromkeys(names)]

    def wait(self, replay: Replay, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not replay.final and time.monotonic() < deadline:
            time.sleep(1)
            replay.refresh_from_db()
        self.stdout.write(
            f"Replay #{replay.pk} {replay.get_state_display().lower()}: {replay.done:,} of {replay.total:,} events, "
            f"{plural(replay.sent, 'delivery', 'deliveries')} sent again, {replay.skipped:,} already on their way."
        )
        if replay.state != ReplayState.DONE:
            raise CommandError(
                f"Replay #{replay.pk} did not finish ({replay.get_state_display().lower()}).", returncode=1
            )
