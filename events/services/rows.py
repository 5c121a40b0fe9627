"""Many rows of one table in one go, for the hot paths where building a model instance per row
costs more than the database's work: `COPY` on PostgreSQL, multi-row INSERTs elsewhere."""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def insert_rows(model: type[Model], columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert `rows` (values in `columns` order, ready for the database) into the model's table."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # COPY: several times faster than a long INSERT
            # The raw cursor's errors become Django's (IntegrityError…), as a query's would.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        chunk = max(connection.ops.bulk_batch_size(list(columns), rows), 1)
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([placeholder] * len(part))}",
                [value for row in part for value in row],
            )


def prepared_values(instance: Model) -> dict[str, object]:
    """An unsaved instance's column values as a save would write them (defaults, `auto_now`),
    by column name, without its auto primary key: a template for many like rows."""
    values = {}
    for field in instance._meta.concrete_fields:
        if field.primary_key and not field.has_default():
            continue
        values[field.column] = field.get_db_prep_save(field.pre_save(instance, add=True), connection)
    return values
