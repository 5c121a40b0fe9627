"""Changelist counts that stay fast on tables of millions of rows."""

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

#: Rows counted exactly; beyond this a changelist says "more than 10,000".
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Never a full COUNT(*): an unfiltered list on PostgreSQL uses the planner's row estimate
    (kept by ANALYZE/autovacuum); any other list counts at most COUNT_CAP + 1 rows."""

    @cached_property
    def count_is_exact(self) -> bool:
        """False when `count` is an estimate or the cap."""
        return self._counted[1]

    @cached_property
    def count(self) -> int:
        return self._counted[0]

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        queryset = self.object_list
        if connection.vendor == "postgresql" and not queryset.query.where:
            estimate = _estimated_rows(queryset.model._meta.db_table)
            if estimate > COUNT_CAP:
                return estimate, False
        capped = queryset.order_by()[: COUNT_CAP + 1].count()
        return min(capped, COUNT_CAP), capped <= COUNT_CAP

    @property
    def count_label(self) -> str:
        """ "1,234", "about 1,000,000" or "more than 10,000"."""
        if self.count_is_exact:
            return f"{self.count:,}"
        if self.count > COUNT_CAP:
            return f"about {self.count:,}"
        return f"more than {COUNT_CAP:,}"


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return max(row[0], 0) if row else 0
