"""History filters the admin lacks out of the box."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import DeliveryStatus


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
