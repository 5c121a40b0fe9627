"""The doorbell: a django-q2 task per provider config that says "look at the database now".

The database is the source of truth and the queue only a doorbell: every event and delivery is a
row before anything is sent, a task only says "send what is due for this provider config", and
the sweeper rings again for anything a lost task left. Rings are coalesced per provider.
"""

import logging
import uuid
from collections.abc import Iterable

from django.db import router, transaction
from django_q.conf import Conf
from django_q.tasks import async_task

from providers.models import ProviderRuntime

from ..models import (
    Delivery,
)

logger = logging.getLogger(__name__)


SEND_TASK = "events.tasks.send_due_deliveries"


def ring_doorbell(provider_id: int, *, force: bool = False) -> None:
    """Queue a task that sends the due deliveries of one provider config.

    Coalesced: while a send task for the provider is queued and not yet started, no other is
    queued (the queued one will find the new deliveries). `force` rings regardless (sweeper).
    With django-q2's ORM broker on the events database the task row commits or rolls back
    with the caller's transaction (a free outbox). Any other broker is rung after commit,
    and the sweeper covers a crash in between.
    """
    ProviderRuntime.objects.get_or_create(provider_id=provider_id)
    rung = ProviderRuntime.objects.filter(provider_id=provider_id, doorbell_pending=False).update(doorbell_pending=True)
    if not (rung or force):
        return
    if router.db_for_write(Delivery) == Conf.ORM or Conf.SYNC:
        _enqueue_send(provider_id)
    else:
        transaction.on_commit(lambda: _enqueue_send(provider_id))


def ring_doorbells(provider_ids: Iterable[int]) -> None:
    """Ring for each provider config, reading their doorbells in one query first: under load a
    send task is usually queued already, and then that one read is all a publish costs.

    The read locks the doorbells (call it last in the publishing transaction: the lock is held
    until commit). A send task answers its doorbell before it claims; with the lock, either it
    answered first (this publish sees the doorbell unrung and rings), or it waits for this commit
    and then claims these deliveries. Without it, a task starting meanwhile could claim before
    this commit and leave the new deliveries to the sweeper."""
    provider_ids = sorted(set(provider_ids))  # one lock order for every publisher
    pending = dict(
        ProviderRuntime.objects.select_for_update()
        .filter(provider_id__in=provider_ids)
        .order_by("provider_id")
        .values_list("provider_id", "doorbell_pending")
    )
    for provider_id in provider_ids:
        if not pending.get(provider_id, False):
            ring_doorbell(provider_id)


def _enqueue_send(provider_id: int) -> None:
    async_task(
        SEND_TASK,
        provider_id,
        task_name=f"send-provider-{provider_id}-{uuid.uuid4().hex[:8]}",
        group=f"send-provider-{provider_id}",
    )


def answer_doorbell(provider_id: int) -> None:
    """A send task has started: the next new delivery must queue a task of its own."""
    ProviderRuntime.objects.filter(provider_id=provider_id, doorbell_pending=True).update(doorbell_pending=False)
