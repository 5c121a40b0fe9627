"""django-q2 entry points. Thin: each calls one service and returns a small summary.

Arguments are ids only: task arguments are signed, not encrypted, and shown in the admin.
"""

from dataclasses import asdict
from typing import Any

from django.conf import settings

from core.heartbeat import beat

from .services import polling, reconcile, retention, sending, sweeper
from .services import replay as replay_service


def send_due_deliveries(provider_id: int) -> dict[str, Any]:
    """Doorbell: send whatever is due for one provider config now."""
    budget = settings.Q_TASK_TIMEOUT_SECONDS / 2
    return asdict(sending.send_due(provider_id=provider_id, time_budget_seconds=budget))


def sweep() -> dict[str, Any]:
    """Scheduled: the worker heartbeat (for /readyz), then recover expired leases and ring for due
    or orphaned deliveries."""
    beat()
    return asdict(sweeper.sweep())


def reconcile_recent() -> dict[str, Any]:
    """Scheduled (hourly): reconcile the last 24 hours of every enabled round-trip receiver."""
    reports = reconcile.reconcile_recent()
    return {"reports": [r.pk for r in reports], "clean": [r.pk for r in reports if r.clean_result]}


def purge() -> dict[str, Any]:
    """Scheduled (daily): remove history older than the retention policy, in small batches."""
    return asdict(retention.purge())


def poll_subscriptions() -> dict[str, Any]:
    """Scheduled (every minute): queue a poll of each pull subscription that is due."""
    return {"queued": polling.queue_due_polls()}


def poll_subscription(provider_id: int) -> dict[str, Any]:
    """Poll one config's pull subscription (one poller at a time: a second task finds it claimed)."""
    return asdict(polling.poll(provider_id, budget_seconds=settings.Q_TASK_TIMEOUT_SECONDS / 2))


def run_replay(replay_id: int) -> dict[str, Any]:
    """Work a replay for half the task timeout; it queues its own continuation."""
    replay = replay_service.run_replay(replay_id, budget_seconds=settings.Q_TASK_TIMEOUT_SECONDS / 2)
    return {"replay": replay.pk, "state": replay.state, "done": replay.done, "total": replay.total}
