"""`manage.py providers list|bootstrap`: provider configs from the command line."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from providers.models import ProviderConfig
from providers.services import bootstrap_demo_providers, effective_mode


class Command(BaseCommand):
    help = "List provider configs with their effective mode, or create the first-run demo configs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Each config: kind, configured and effective mode, and why.")
        sub.add_parser("bootstrap", help="Create one demo config per kind when none exist.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "bootstrap":
            created = bootstrap_demo_providers()
            self.stdout.write(
                f"Created {', '.join(c.name for c in created)}."
                if created
                else "Provider configs already exist; nothing created."
            )
            return
        for config in ProviderConfig.objects.order_by("name"):
            mode = effective_mode(config)
            state = "enabled" if config.enabled else "disabled"
            self.stdout.write(f"{config.name:<20} {config.kind:<16} {state:<8} {mode.mode:<10} {mode.reason}")
