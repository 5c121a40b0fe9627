"""`manage.py providers list|check|bootstrap`: provider configs from the command line."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.checks import check_cloud, check_connection
from providers.circuit import circuit_text
from providers.kinds import spec_for
from providers.models import ProviderConfig
from providers.modes import effective_mode
from providers.simulation import simulation_words
from providers.startup import bootstrap_demo_providers


class Command(BaseCommand):
    help = "List provider configs, test their connections, or create the first-run demo configs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Each config: kind, configured and effective mode, and why.")
        check = sub.add_parser(
            "check",
            help="Test each named config (default: all enabled) in its mode: demo checks its settings "
            "without a cloud call, production tests the cloud.",
        )
        check.add_argument("names", nargs="*", metavar="name")
        check.add_argument(
            "--cloud",
            action="store_true",
            help="Test the real cloud whatever the mode (production readiness of demo configs).",
        )
        sub.add_parser("bootstrap", help="Create one demo config per kind when none exist.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "bootstrap":
            created = bootstrap_demo_providers()
            self.stdout.write(
                f"Created {', '.join(c.name for c in created)}."
                if created
                else "Provider configs already exist; nothing created."
            )
        elif action == "check":
            self.check_connections(options["names"], cloud=options["cloud"])
        else:
            self.list_configs()

    def list_configs(self) -> None:
        """One line per config: name, kind, state, effective mode, circuit, target; then why."""
        configs = list(ProviderConfig.objects.select_related("runtime").order_by("name"))
        self.stdout.write(f"{'NAME':<20} {'KIND':<16} {'STATE':<8} {'MODE':<10} {'CIRCUIT':<24} TARGET")
        for config in configs:
            mode = effective_mode(config)
            state = "enabled" if config.enabled else "disabled"
            target = spec_for(config.kind).describe_target(config.options())
            self.stdout.write(
                f"{config.name:<20} {config.kind:<16} {state:<8} {mode.mode:<10} {circuit_text(config):<24} {target}"
            )
            simulated = simulation_words(config) if not mode.is_production else ""
            self.stdout.write(
                f"{'':<20} {mode.reason}" + (f"; {simulated.removeprefix('demo: ')}" if simulated else "")
            )

    def check_connections(self, names: list[str], *, cloud: bool) -> None:
        """Test each config; exit 1 when any test failed, 2 for an unknown name."""
        configs = list(
            ProviderConfig.objects.filter(name__in=names) if names else ProviderConfig.objects.filter(enabled=True)
        )
        unknown = sorted(set(names) - {c.name for c in configs})
        if unknown:
            raise CommandError(f"Unknown provider config: {', '.join(unknown)}.", returncode=2)
        failed = 0
        for config in sorted(configs, key=lambda c: c.name):
            result = check_cloud(config) if cloud else check_connection(config)
            failed += not result.ok
            verdict = self.style.SUCCESS("PASSED") if result.ok else self.style.ERROR("FAILED")
            self.stdout.write(f"{config.name:<20} {verdict}  {result.message}")
        if failed:
            raise SystemExit(1)
