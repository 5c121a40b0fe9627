"""Routes (Admin role) and the "test routes" page: paste an event, see which routes and provider
configs it would reach and why."""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from core.admin_pages import page_context
from core.permissions import require

from ..forms import StrictJSONField
from ..models import Delivery, Route
from ..route_filters import matches

#: The test page's example: a value, shown as JSON by the field (text here would show quoted).
SAMPLE_EVENT = {"type": "OrderPlaced", "source": "com.example.shop", "subject": "orders/o-1", "data": {"country": "DE"}}


class RouteForm(forms.ModelForm):
    class Meta:
        model = Route
        fields = ["name", "description", "enabled", "position", "filter", "providers"]
        field_classes = {"filter": StrictJSONField}
        widgets = {"providers": forms.CheckboxSelectMultiple}


class RouteTestForm(forms.Form):
    event = StrictJSONField(
        initial=SAMPLE_EVENT,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 90}),
        help_text="An event as the API takes it: type, source, subject and data.",
    )

    def clean_event(self) -> dict[str, Any]:
        value = self.cleaned_data["event"]
        if not isinstance(value, dict):
            raise forms.ValidationError("Paste one event: a JSON object with type, source, subject and data.")
        return value


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    form = RouteForm
    list_display = ["name", "position", "enabled", "filter_text", "targets", "description"]
    list_editable = ["position", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name", "description"]

    def has_delete_permission(self, request: HttpRequest, obj: Route | None = None) -> bool:
        """A route that chose deliveries is history: disable it instead."""
        if obj is not None and Delivery.objects.filter(route=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        test = path("test/", self.admin_site.admin_view(self.test_view), name="events_route_test")
        return [test, *super().get_urls()]

    @admin.display(description="filter")
    def filter_text(self, obj: Route) -> str:
        return json.dumps(obj.filter, ensure_ascii=False) if obj.filter else "{} (every event)"

    @admin.display(description="provider configs")
    def targets(self, obj: Route) -> str:
        return ", ".join(p.name for p in obj.providers.all()) or "—"

    def test_view(self, request: HttpRequest) -> HttpResponse:
        """Which routes an event would take, route by route, and where it would go."""
        require(request.user, "events.view_route", to="test routes")
        form = RouteTestForm(request.POST or None)
        results, destinations = [], {}
        if request.method == "POST" and form.is_valid():
            event = form.cleaned_data["event"]
            for route in Route.objects.prefetch_related("providers"):
                matched = route.enabled and matches(route.filter, event)
                providers = [p for p in route.providers.all() if p.enabled]
                results.append(
                    {"route": route, "filter": self.filter_text(route), "matched": matched, "providers": providers}
                )
                if matched:
                    for provider in providers:
                        destinations.setdefault(provider.name, route.name)
        context = page_context(
            self, request, "Test routes", form=form, results=results, destinations=destinations, tested=bool(results)
        )
        return TemplateResponse(request, "admin/events/route/test.html", context)
