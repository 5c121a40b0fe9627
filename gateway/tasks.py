"""The gateway's background work (django-q2): thin entry points."""

from django.conf import settings

from . import accept_log, expansion, idempotency


def expand_accepted_requests() -> int:
    """Queued by accepts (coalesced), and every minute by schedule: answer the bell, then expand
    what waits and send what it made (for half the task timeout at most)."""
    accept_log.answer_bell()
    return expansion.expand_accepted(budget_seconds=settings.Q_TASK_TIMEOUT_SECONDS / 2, send=True)


def forget_idempotency_keys() -> int:
    """Scheduled (daily): remove Idempotency-Key answers, and expanded accepted requests, older
    than the time they are kept."""
    return idempotency.forget_expired() + expansion.forget_expanded()
