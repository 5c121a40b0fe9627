"""Event templates: saved types with defaults and an optional JSON Schema."""

from django.contrib import admin

from ..forms import EventTemplateForm
from ..models import EventTemplate


@admin.register(EventTemplate)
class EventTemplateAdmin(admin.ModelAdmin):
    form = EventTemplateForm
    list_display = ["name", "event_type", "source", "has_schema", "description"]
    search_fields = ["name", "event_type", "source"]

    @admin.display(description="JSON Schema", boolean=True)
    def has_schema(self, obj: EventTemplate) -> bool:
        return bool(obj.json_schema)
