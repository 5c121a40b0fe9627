"""The CLI's production confirmation, as the console asks it: the production configs' names."""

import sys
from collections.abc import Sequence

from django.core.management.base import CommandError

from providers.models import ProviderConfig
from providers.production import production_names


def production_confirmation(configs: Sequence[ProviderConfig], *, assume_yes: bool, sends: str, nothing: str) -> str:
    """What a CLI send to these configs is confirmed with: the production configs' names, typed on
    a terminal or given by --yes ("" when none is in production). Without a terminal and without
    --yes: CommandError (exit 2). `sends` says what the command does ("sends", "replays"),
    `nothing` what did not happen ("Nothing was published.")."""
    names = production_names(configs)
    if not names or assume_yes:
        return names
    if not sys.stdin.isatty():
        raise CommandError(f"This {sends} to PRODUCTION: {names}. Add --yes to confirm. {nothing}", returncode=2)
    return input(f"This {sends} to PRODUCTION: {names}. Type these names to confirm: ")
