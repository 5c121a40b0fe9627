"""The gateway's scheduled work (django-q2)."""

from . import idempotency


def forget_idempotency_keys() -> int:
    """Scheduled (daily): remove Idempotency-Key answers older than the time they are kept."""
    return idempotency.forget_expired()
