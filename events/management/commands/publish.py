"""`manage.py publish`: compose and send one event from the command line.

Exit status: 0 when every delivery succeeded (or, without --wait/--sync, when the event
was accepted and queued), 1 when any delivery failed, died or was not final in time,
2 on bad arguments (unknown provider, bad JSON, over a limit) with nothing created.

`--data` takes the JSON itself, `@path` to read it from a file, or `-` to read standard input
(like curl), so payloads up to the providers' real limits fit (argv stops at 128 KiB).

Sending to a config in production mode needs a confirmation, as in the console: on a terminal
HELIOS asks for the production configs' names; otherwise `--yes` (exit 2 without it, nothing
created).
"""

import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.badges import plural
from events.models import DeliveryStatus, Event, EventTemplate
from events.selectors import delivery_status_rows, wait_until_final
from events.services.publishing import EventSpec, PublishRequest, destinations, publish
from events.services.sending import deliver_now
from events.services.validation import PublishRejected, Refusal, parse_data
from providers.kinds import SPECS, by_cli_alias
from providers.models import ProviderConfig
from providers.production import ProductionGrant

from ..production_prompt import production_confirmation

NOTHING = "Nothing was published."
#: What --provider accepts besides a config name: each kind's alias, then "all".
PROVIDER_CHOICES = "|".join([*(spec.cli_alias for spec in SPECS), "all"])


def resolve_providers(names: list[str]) -> list[ProviderConfig]:
    """Provider configs for a kind's alias (aws, gcp, azure), all or a config name, each at most once, in order."""
    enabled = ProviderConfig.objects.filter(enabled=True).order_by("kind", "name")
    chosen: dict[int, ProviderConfig] = {}
    for name in names:
        if name == "all":
            matches = list(enabled)
        elif spec := by_cli_alias(name):
            matches = list(enabled.filter(kind=spec.name))
        else:
            matches = list(ProviderConfig.objects.filter(name=name))
            if not matches:
                known = ", ".join(ProviderConfig.objects.order_by("name").values_list("name", flat=True)) or "none"
                raise CommandError(
                    f"Unknown provider '{name}'. Use {PROVIDER_CHOICES.replace('|', ', ')} or a config name "
                    f"(configured: {known}).",
                    returncode=2,
                )
        if not matches:
            raise CommandError(f"No enabled provider config matches '{name}'.", returncode=2)
        chosen.update((config.pk, config) for config in matches)
    return list(chosen.values())


def quiet_library_logs() -> None:
    """Keep this command's terminal to its own report: django-q's "Enqueued" lines and Google's
    metadata-server probe warnings are for the worker's log, not for a person publishing."""
    logging.getLogger("django-q").setLevel(logging.WARNING)
    logging.getLogger("google.auth").setLevel(logging.ERROR)


class Command(BaseCommand):
    help = "Publish one event to one or more providers and report each delivery."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--provider",
            action="append",
            dest="providers",
            metavar=f"{PROVIDER_CHOICES}|NAME",
            help="Where to send (repeatable, required): a kind's configs, all enabled configs, or one by name.",
        )
        parser.add_argument("--template", help="An event template: its defaults, and its JSON Schema is checked.")
        parser.add_argument("--event-type", help="Default: the template's, else OrderPlaced.")
        parser.add_argument("--source", help="Default: the template's, else com.example.shop.")
        parser.add_argument("--subject", help="Default: the template's, else none.")
        parser.add_argument(
            "--data", metavar="JSON|@FILE|-", help="The event data: a JSON object, @file to read a file, - for stdin."
        )
        parser.add_argument("--order-id", help="Shortcut: data.order_id")
        parser.add_argument("--amount", type=float, help="Shortcut: data.amount")
        parser.add_argument("--customer-id", help="Shortcut: data.customer_id")
        parser.add_argument("--idempotency-key", help="Publishing again with the same key sends nothing twice.")
        parser.add_argument("--wait", action="store_true", help="Wait for the worker's results.")
        parser.add_argument("--sync", action="store_true", help="Send in this process, without a worker.")
        parser.add_argument("--timeout", type=float, default=30.0, help="Seconds to wait for results (default 30).")
        parser.add_argument(
            "--yes", action="store_true", help="Confirm a send to production configs (needed without a terminal)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        quiet_library_logs()
        template = None
        if options["template"]:
            template = EventTemplate.objects.filter(name=options["template"]).first()
            if template is None:
                raise CommandError(f"Unknown event template '{options['template']}'.", returncode=2)
        data = self.event_data(options, template)
        spec = EventSpec(
            event_type=self.given(options["event_type"], template.event_type if template else "OrderPlaced"),
            source=self.given(options["source"], template.source if template else "com.example.shop"),
            subject=self.given(options["subject"], template.subject if template else ""),
            data=data,
            template=template,
        )
        if options["providers"]:
            spec = replace(spec, providers=tuple(resolve_providers(options["providers"])))
        grant = ProductionGrant.typed(self.confirmation(spec, assume_yes=options["yes"]))
        request = PublishRequest(events=[spec], grant=grant, idempotency_key=options["idempotency_key"])
        try:
            [published] = publish(request, ring=not options["sync"])
        except PublishRejected as rejected:
            raise CommandError(self.refusal(rejected), returncode=2) from None
        event = published.event
        self.stdout.write(f"Event {event.id}  type={event.type}  source={event.source}")
        if published.reused:
            self.stdout.write(f"  already published with idempotency key {event.idempotency_key}: nothing sent again")
        if options["sync"]:
            deliver_now(event=event, timeout_seconds=options["timeout"])
        elif options["wait"]:
            wait_until_final(event, timeout_seconds=options["timeout"])
        else:
            self.report(event, queued=True)
            return
        if not self.report(event, queued=False):
            raise SystemExit(1)

    def confirmation(self, spec: EventSpec, *, assume_yes: bool) -> str:
        """The operator's confirmation of a send to production (asked on a terminal, or --yes)."""
        configs, _ = destinations(spec)
        return production_confirmation(configs, assume_yes=assume_yes, sends="sends", nothing=NOTHING)

    @staticmethod
    def refusal(rejected: PublishRejected) -> str:
        """The publish service's refusal in the command's words."""
        if rejected.refusal == Refusal.UNROUTED:
            known = ", ".join(
                ProviderConfig.objects.filter(enabled=True).order_by("name").values_list("name", flat=True)
            )
            return (
                f"No route matches this event: say where to send it with --provider {PROVIDER_CHOICES}|NAME "
                f"(enabled configs: {known or 'none'}). {NOTHING}"
            )
        if rejected.refusal == Refusal.PRODUCTION:
            return f"{rejected.errors[0]} {NOTHING}"
        return "Nothing was published:\n  " + "\n  ".join(rejected.errors)

    @staticmethod
    def given(value: str | None, default: str) -> str:
        """An option as given (an explicit "" included: the input gate refuses it), else the default."""
        return default if value is None else value

    def event_data(self, options: dict[str, Any], template: EventTemplate | None) -> dict[str, Any]:
        """--data (text, @file or - for stdin), else the template's data, updated with the shortcut fields."""
        if options["data"] is not None:
            try:
                data = parse_data(self.read_data(options["data"]))
            except PublishRejected as rejected:
                raise CommandError(f"--data: {rejected.errors[0]} Nothing was published.", returncode=2) from None
        else:
            data = dict(template.data) if template else {}
        shortcuts = {
            "order_id": options["order_id"],
            "amount": options["amount"],
            "customer_id": options["customer_id"],
        }
        data.update({key: value for key, value in shortcuts.items() if value is not None})
        return data

    def read_data(self, value: str) -> bytes | str:
        """The --data text: the value itself, a file's bytes (@path) or standard input (-)."""
        if value == "-":
            return getattr(sys.stdin, "buffer", sys.stdin).read()
        if value.startswith("@"):
            try:
                return Path(value[1:]).read_bytes()
            except OSError as error:
                raise CommandError(f"--data {value}: cannot read the file ({error.strerror}).", returncode=2) from None
        return value

    def report(self, event: Event, *, queued: bool) -> bool:
        """One line per delivery and a summary; True when every delivery succeeded."""
        rows = delivery_status_rows(event)
        width = max(len(row["provider"]) for row in rows)
        for row in rows:
            self.stdout.write(
                f"  {row['provider']:<{width}}  {row['kind']:<16}  {row['mode']:<10}  {self.outcome(row, queued)}"
            )
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        all_ok = counts.get(DeliveryStatus.SUCCEEDED, 0) == len(rows)
        style = self.style.SUCCESS if all_ok or queued else self.style.ERROR
        self.stdout.write(style(f"{plural(len(rows), 'delivery', 'deliveries')}: {summary}"))
        return all_ok

    @staticmethod
    def outcome(row: dict[str, Any], queued: bool) -> str:
        attempts = f"attempt {row['attempts']}" if row["attempts"] else "no attempt yet"
        if row["status"] == DeliveryStatus.SUCCEEDED:
            return f"SUCCESS  message id {row['provider_message_id']}  ({attempts}, {row['latency_ms']} ms)"
        if row["status"] in (DeliveryStatus.FAILED, DeliveryStatus.DEAD):
            return f"FAILED   {row['last_error_code']}: {row['last_error']}  ({attempts}, {row['status']})"
        paused = f"  {row['circuit']}" if row["circuit"] else ""
        if queued:
            return f"QUEUED   a worker will send it (use --wait to see the result){paused}"
        error = f"; last error {row['last_error_code']}: {row['last_error']}" if row["last_error_code"] else ""
        return f"FAILED   not final in time: still {row['status']} ({attempts}{error}){paused}"
