"""django-q2's brokers with one addition: the pusher of a supervised cluster counts the tasks it
takes and hands on (core.worker_state; a task it cannot read is failed, not handed on), so the
supervisor can see tasks held inside a jammed cluster."""

from typing import Any

from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis

from .worker_state import mark_taken


class CountingPusher:
    """What the pusher takes from a broker, counted (mixed in before the broker's class)."""

    def dequeue(self) -> list[Any] | None:
        tasks = super().dequeue()  # type: ignore[misc]
        mark_taken(len(tasks or ()))
        return tasks

    def fail(self, task_id: Any) -> None:
        """A task the pusher took and could not read (a bad signature): never a worker's."""
        super().fail(task_id)  # type: ignore[misc]
        mark_taken(-1)


class CountingORM(CountingPusher, ORM):
    """The ORM broker (the default: tasks are rows of the database)."""


class CountingRedis(CountingPusher, Redis):
    """The Redis broker (Q_BROKER=redis)."""
