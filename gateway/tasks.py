"""The gateway's background work (django-q2): thin entry points."""

from . import expansion, idempotency


def expand_accepted_requests() -> int:
    """Queued with each accepted request, and every minute by schedule: expand what waits."""
    return expansion.expand_accepted()


def forget_idempotency_keys() -> int:
    """Scheduled (daily): remove Idempotency-Key answers, and expanded accepted requests, older
    than the time they are kept."""
    return idempotency.forget_expired() + expansion.forget_expanded()
