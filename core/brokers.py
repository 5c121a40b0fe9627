"""django-q2's brokers with one addition: the pusher of a supervised cluster counts the tasks it
takes (core.worker_state), so the supervisor can see tasks held inside a jammed cluster."""

from typing import Any

from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis

from .worker_state import mark_taken


class CountingORM(ORM):
    """The ORM broker (the default: tasks are rows of the database)."""

    def dequeue(self) -> list[Any] | None:
        tasks = super().dequeue()
        mark_taken(len(tasks or ()))
        return tasks


class CountingRedis(Redis):
    """The Redis broker (Q_BROKER=redis)."""

    def dequeue(self) -> list[Any] | None:
        tasks = super().dequeue()
        mark_taken(len(tasks or ()))
        return tasks
