"""History filters the admin lacks out of the box."""

from django.contrib import admin
from django.db import connection
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .models import Delivery, DeliveryStatus, Event


class StatusesFilter(admin.SimpleListFilter):
    """Several statuses at once: each choice toggles itself in `?statuses=failed,dead`."""

    title = "statuses"
    parameter_name = "statuses"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(DeliveryStatus.choices)

    def chosen(self) -> list[str]:
        return [s for s in (self.value() or "").split(",") if s in DeliveryStatus.values]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        chosen = self.chosen()
        return queryset.filter(status__in=chosen) if chosen else queryset

    def choices(self, changelist):  # type: ignore[no-untyped-def]
        chosen = self.chosen()
        yield {
            "selected": not chosen,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }
        for value, label in self.lookup_choices:
            toggled = [s for s in chosen if s != value] if value in chosen else [*chosen, value]
            yield {
                "selected": value in chosen,
                "query_string": changelist.get_query_string({self.parameter_name: ",".join(toggled)})
                if toggled
                else changelist.get_query_string(remove=[self.parameter_name]),
                "display": label,
            }


#: Most distinct values a filter lists.
MAX_FILTER_VALUES = 100


def distinct_values(model: type[Model], column: str) -> list[str]:
    """The distinct non-empty values of an indexed text column, in order, at most MAX_FILTER_VALUES.

    On PostgreSQL a "loose index scan" (a recursive CTE that jumps from one value to the next
    through the index) reads one index entry per distinct value instead of every row: the
    difference between 1 ms and 100 ms at a million rows. Elsewhere a plain DISTINCT.
    """
    if connection.vendor != "postgresql":
        values = model._default_manager.exclude(**{column: ""}).order_by(column).values_list(column, flat=True)
        return list(values.distinct()[:MAX_FILTER_VALUES])
    table, name = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE found(value) AS ("
            f"  (SELECT {name} FROM {table} WHERE {name} > '' ORDER BY {name} LIMIT 1)"
            f"  UNION ALL"
            f"  SELECT (SELECT {name} FROM {table} WHERE {name} > found.value ORDER BY {name} LIMIT 1)"
            f"  FROM found WHERE found.value IS NOT NULL"
            f") SELECT value FROM found WHERE value IS NOT NULL LIMIT %s",
            [MAX_FILTER_VALUES],
        )
        return [row[0] for row in cursor.fetchall()]


class DistinctValuesFilter(admin.SimpleListFilter):
    """A filter on an indexed text column whose choices come from `distinct_values`."""

    model: type[Model]
    column: str
    #: The lookup applied to the changelist's queryset.
    lookup: str

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(value, value) for value in distinct_values(self.model, self.column)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(**{self.lookup: self.value()}) if self.value() else queryset


class ErrorCodeFilter(DistinctValuesFilter):
    title = "last error code"
    parameter_name = "error_code"
    model = Delivery
    column = "last_error_code"
    lookup = "last_error_code"


class DeliveryEventTypeFilter(DistinctValuesFilter):
    title = "event type"
    parameter_name = "event_type"
    model = Event
    column = "type"
    lookup = "event__type"


class EventTypeFilter(DeliveryEventTypeFilter):
    lookup = "type"


class ConfirmedFilter(admin.SimpleListFilter):
    """Round trip: deliveries whose event came back from the cloud, or not (yet)."""

    title = "round trip"
    parameter_name = "confirmed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Confirmed (came back)"), ("no", "Unconfirmed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(confirmed_at__isnull=self.value() == "no")
        return queryset
