"""Wrong API keys are throttled per client address and per key prefix, as the console's login is:
past HELIOS_API_AUTH_FAILURE_LIMIT wrong keys in a minute from one address (or naming one
prefix), further wrong keys from there get 429 with Retry-After for HELIOS_API_AUTH_BLOCK_SECONDS.

Only wrong keys are counted and answered 429: a valid key is never refused because others
guessed from its address (a NAT or a shared proxy), and a key's 256 random bits leave nothing to
guess in the meantime. /metrics counts the wrong keys (`helios_api_auth_failures_total`).
"""

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import AuthFailures

WINDOW = timedelta(minutes=1)


def scopes_of(*, remote_addr: str | None, prefix: str) -> list[str]:
    """The scopes a wrong key counts against."""
    found = [f"address:{remote_addr}"] if remote_addr else []
    if prefix:
        found.append(f"prefix:{prefix}")
    return found


def count_failure(scopes: list[str]) -> int:
    """Count one wrong key against each scope; the seconds to wait when one of them is (now)
    blocked, else 0."""
    now = timezone.now()
    wait = 0.0
    with transaction.atomic():
        for scope in scopes:
            row, _ = AuthFailures.objects.select_for_update().get_or_create(
                scope=scope, defaults={"window_started_at": now}
            )
            if now - row.window_started_at >= WINDOW:
                row.window_started_at, row.failures = now, 0
            row.failures += 1
            row.total += 1
            if row.failures > settings.HELIOS_API_AUTH_FAILURE_LIMIT:
                row.blocked_until = now + timedelta(seconds=settings.HELIOS_API_AUTH_BLOCK_SECONDS)
            row.save()
            if row.blocked_until and row.blocked_until > now:
                wait = max(wait, (row.blocked_until - now).total_seconds())
    return math.ceil(wait)
