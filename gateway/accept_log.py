"""Writing to the accept log: one accepted request, its events' `ApiEvent` rows, and the
expansion bell rung when no expansion task is queued.

On PostgreSQL the request and its events are one statement (a data-modifying `WITH`) that also
reads the bell, and accepts do not wait for one another: each holds a shared advisory lock
(`BELL_LOCK`) until its commit, and a starting expansion task answers the bell under the same
lock held exclusively, so it waits for every accept in flight. Either an accept committed before
the task answered (the task's claim, which comes after, sees its request), or it read the bell
after the answer (and rings). Only an accept that finds the bell unrung locks its row to ring
it. Elsewhere (SQLite, which serializes writers) the ORM writes the rows and every accept locks
the bell's row until its commit.
"""

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection, router, transaction
from django_q.conf import Conf
from django_q.tasks import async_task

from events.models import Event
from events.services.rows import insert_rows, prepared_values

from .models import AcceptedRequest, ApiEvent, ApiKey, ExpansionBell

EXPAND_TASK = "gateway.tasks.expand_accepted_requests"
#: The advisory lock of the expansion bell (PostgreSQL): accepts hold it shared, an expansion
#: task answering the bell exclusively. Any constant no other lock of the database uses.
BELL_LOCK = 0x48454C494F53  # "HELIOS"


def write_request(key: ApiKey, groups: list[dict[str, Any]], events: Sequence[Event], remote_addr: str | None) -> None:
    """Write one accepted request (`groups` as the log keeps them) and an `ApiEvent` per event,
    then ring the bell unless a task is queued. Call it inside the accepting transaction."""
    if connection.vendor == "postgresql":
        if _write_in_one_statement(key, groups, events, remote_addr):
            return
    else:
        _write_with_the_orm(key, groups, events, remote_addr)
    ring_expansion()


def _write_in_one_statement(
    key: ApiKey, groups: list[dict[str, Any]], events: Sequence[Event], remote_addr: str | None
) -> bool:
    """PostgreSQL: the request and its events in one statement; whether the bell is rung."""
    request = AcceptedRequest(api_key=key, remote_addr=remote_addr, groups=groups)
    values = prepared_values(request)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [BELL_LOCK])  # before the bell is read
        cursor.execute(
            _insert_sql(),
            [
                *(values[column] for column in _REQUEST_COLUMNS),
                key.pk,
                values["remote_addr"],
                values["accepted_at"],
                [event.pk for event in events],
                [event.source for event in events],
                [event.cloudevent_id for event in events],
            ],
        )
        bell = cursor.fetchone()
    return bool(bell and bell[0])


#: The accepted request's columns the statement writes, in its order.
_REQUEST_COLUMNS = ("api_key_id", "accepted_at", "remote_addr", "groups")


@functools.cache
def _insert_sql() -> str:
    quote = connection.ops.quote_name
    request_columns = ", ".join(quote(column) for column in _REQUEST_COLUMNS)
    return (
        f"WITH request AS (INSERT INTO {quote(AcceptedRequest._meta.db_table)} ({request_columns}) "
        f"VALUES (%s, %s, %s, %s) RETURNING id), "
        f"events AS (INSERT INTO {quote(ApiEvent._meta.db_table)} "
        f"(event_id, api_key_id, request_id, source, cloudevent_id, remote_addr, created_at) "
        f"SELECT event.id, %s::bigint, request.id, event.source, event.cloudevent_id, %s::inet, %s::timestamptz "
        f"FROM request, "
        f"unnest(%s::uuid[], %s::varchar[], %s::varchar[]) AS event(id, source, cloudevent_id)) "
        f"SELECT pending FROM {quote(ExpansionBell._meta.db_table)} WHERE id = 1"
    )


def _write_with_the_orm(
    key: ApiKey, groups: list[dict[str, Any]], events: Sequence[Event], remote_addr: str | None
) -> None:
    accepted = AcceptedRequest.objects.create(api_key=key, remote_addr=remote_addr, groups=groups)
    # One row per event from a template prepared once (rows.py): only the event's own columns differ.
    template = prepared_values(ApiEvent(api_key=key, request=accepted, remote_addr=remote_addr))
    columns = [ApiEvent._meta.pk.column, *template]  # the primary key: the event's id, not a default
    at_source, at_cloudevent_id = columns.index("source"), columns.index("cloudevent_id")
    rows: list[tuple] = []
    for event in events:
        row = [ApiEvent._meta.pk.get_db_prep_save(event.pk, connection), *template.values()]
        row[at_source], row[at_cloudevent_id] = event.source, event.cloudevent_id
        rows.append(tuple(row))
    insert_rows(ApiEvent, columns, rows)


def ring_expansion() -> None:
    """Queue an expansion task, unless one is queued and not started yet (it will find this
    request too). Call it last in the accepting transaction: the bell's row stays locked until
    commit. With the ORM broker on the same database the task row commits with the request;
    another broker is rung after."""
    bell, _ = ExpansionBell.objects.select_for_update().get_or_create(pk=1)
    if bell.pending:
        return
    ExpansionBell.objects.filter(pk=1).update(pending=True)
    if router.db_for_write(AcceptedRequest) == Conf.ORM or Conf.SYNC:
        async_task(EXPAND_TASK)
    else:
        transaction.on_commit(lambda: async_task(EXPAND_TASK))


def answer_bell() -> None:
    """An expansion task has started: the next accept must queue a task of its own. On
    PostgreSQL this waits for the accepts in flight (they hold `BELL_LOCK` shared)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BELL_LOCK])
        ExpansionBell.objects.filter(pk=1, pending=True).update(pending=False)
