"""`manage.py apikeys create|list|revoke`: API keys for provisioning scripts."""

import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gateway.keys import create_key, revoke_key
from gateway.models import ApiKey
from providers.models import ProviderConfig

DURATION = re.compile(r"^(\d+)([dh])$")


def expiry(value: str) -> datetime:
    """`30d`, `12h` or an ISO 8601 time."""
    if found := DURATION.match(value):
        amount, unit = int(found[1]), found[2]
        return timezone.now() + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--expires {value!r}: give 30d, 12h or an ISO time (2027-01-31T00:00Z).", returncode=2
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.get_current_timezone())


class Command(BaseCommand):
    help = "Create, list or revoke API keys (the secret is printed once, on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Make a key; its secret is the last line printed.")
        create.add_argument("name")
        create.add_argument("--provider", action="append", default=[], help="A config it may publish to (repeatable).")
        create.add_argument("--production", action="store_true", help="It may send to production configs.")
        create.add_argument("--expires", help="30d, 12h or an ISO time; default: never.")
        create.add_argument("--rate-limit", type=int, help="Most events a minute.")
        sub.add_parser("list", help="Every key: name, prefix, providers, production, state, last use.")
        revoke = sub.add_parser("revoke", help="Refuse the key's requests from now on.")
        revoke.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, options["action"])(options)

    def create(self, options: dict[str, Any]) -> None:
        names = options["provider"]
        providers = list(ProviderConfig.objects.filter(name__in=names))
        unknown = sorted(set(names) - {p.name for p in providers})
        if unknown:
            raise CommandError(f"Unknown provider config: {', '.join(unknown)}.", returncode=2)
        if ApiKey.objects.filter(name=options["name"]).exists():
            raise CommandError(
                f"An API key named {options['name']} exists; revoke it or choose another name.", returncode=2
            )
        made = create_key(
            name=options["name"],
            providers=providers,
            allow_production=options["production"],
            expires_at=expiry(options["expires"]) if options["expires"] else None,
            rate_limit_per_minute=options["rate_limit"],
        )
        scope = ", ".join(sorted(names)) or "no provider config yet"
        self.stderr.write(
            f"API key {made.key.name} for {scope}{' (production allowed)' if options['production'] else ''}."
        )
        self.stderr.write("The key follows, shown this once (HELIOS keeps only its hash):")
        self.stdout.write(made.secret)

    def list(self, options: dict[str, Any]) -> None:
        self.stdout.write(f"{'NAME':<24} {'PREFIX':<10} {'STATE':<8} {'PROD':<5} PROVIDERS / LAST USED")
        for key in ApiKey.objects.prefetch_related("providers").order_by("name"):
            state = "revoked" if key.revoked_at else ("active" if key.active else "expired")
            used = f"{key.last_used_at:%Y-%m-%d %H:%M:%S} from {key.last_used_from}" if key.last_used_at else "never"
            scope = ", ".join(p.name for p in key.providers.all()) or "-"
            production = "yes" if key.allow_production else "no"
            self.stdout.write(f"{key.name:<24} {key.prefix:<10} {state:<8} {production:<5} {scope} / {used}")

    def revoke(self, options: dict[str, Any]) -> None:
        key = ApiKey.objects.filter(name=options["name"]).first()
        if key is None:
            raise CommandError(f"No API key named {options['name']}.", returncode=2)
        if key.revoked_at:
            self.stdout.write(f"API key {key.name} was already revoked at {key.revoked_at:%Y-%m-%d %H:%M:%S}.")
            return
        revoke_key(key)
        self.stdout.write(f"API key {key.name} revoked: its requests are refused from now on.")
