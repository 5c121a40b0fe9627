"""The catalog stamp's triggers on SQLite, made again after every `migrate`.

SQLite drops a table's triggers when a migration rebuilds the table (adding a column with a
check, as a new provider kind's options do, is such a rebuild), which would leave every process
serving a stale catalog. Gateway migration 0008 creates the triggers; this post-migrate hook
creates whichever are missing, so no later migration of any app has to know about them.
PostgreSQL keeps triggers across table rewrites."""

from typing import Any

from django.db import connections

WATCHED = ("providers_providerconfig", "events_route", "events_route_providers", "gateway_apikey_providers")
STAMP = "gateway_catalogstamp"


def sqlite_statements() -> list[str]:
    """One trigger per watched table and write, each renewing the stamp (created if missing)."""
    return [
        f"""CREATE TRIGGER IF NOT EXISTS helios_catalog_stamp_{table}_{operation.lower()}
        AFTER {operation} ON {table}
        BEGIN
            UPDATE {STAMP} SET token = lower(hex(randomblob(16))) WHERE id = 1;
            INSERT OR IGNORE INTO {STAMP} (id, token) VALUES (1, lower(hex(randomblob(16))));
        END"""
        for table in WATCHED
        for operation in ("INSERT", "UPDATE", "DELETE")
    ]


def ensure_sqlite_triggers(*, using: str = "default", **_: Any) -> None:
    """post_migrate: on SQLite, create the stamp's triggers that a table rebuild dropped."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    tables = set(connection.introspection.table_names())
    if not {STAMP, *WATCHED} <= tables:
        return  # migrated only part of the way (a test's or an operator's `migrate app 000x`)
    with connection.cursor() as cursor:
        for statement in sqlite_statements():
            cursor.execute(statement)
