"""Per-provider rate limit (events per second) shared by every worker: a token bucket row."""

import time

from django.db import transaction
from django.utils import timezone

from .models import ProviderConfig, ProviderRuntime


def acquire(config: ProviderConfig, wanted: int, *, max_wait_seconds: float) -> int:
    """Take up to `wanted` send tokens, waiting up to `max_wait_seconds` for the first one."""
    rate = config.rate_limit_per_second
    if not rate:
        return wanted
    capacity = max(rate, 1.0)  # at most one second's worth in a burst
    deadline = time.monotonic() + max_wait_seconds
    while True:
        with transaction.atomic():
            runtime, _ = ProviderRuntime.objects.select_for_update().get_or_create(provider=config)
            now = timezone.now()
            if runtime.rate_updated_at is None:
                tokens = capacity
            else:
                elapsed = (now - runtime.rate_updated_at).total_seconds()
                tokens = min(capacity, runtime.rate_tokens + rate * elapsed)
            granted = min(wanted, int(tokens))
            runtime.rate_tokens = tokens - granted
            runtime.rate_updated_at = now
            runtime.save(update_fields=["rate_tokens", "rate_updated_at"])
        if granted:
            return granted
        wait = (1.0 - tokens) / rate
        if time.monotonic() + wait > deadline:
            return 0
        time.sleep(wait)
