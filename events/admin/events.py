"""Events: the read-only history, the live event page, resend."""

import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core import strictjson
from core.admin_pages import page_context
from core.audit import Actor
from core.badges import badge, copyable, moment, plural, trace_link
from core.readonly import ReadOnlyAdminMixin
from providers.models import ProviderConfig
from providers.production import ProductionGrant, production_names

from ..filters import EventTypeFilter
from ..models import Event, Resend
from ..selectors import awaiting_round_trip, delivery_status_rows
from ..services.operator import resend_to
from ..services.validation import PublishRejected, Refusal
from .compose import ComposeViews
from .history import EventMatch, HistoryListMixin


@admin.register(Event)
class EventAdmin(ComposeViews, HistoryListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["short_id", "type", "source", "subject", "created", "creator", "delivery_summary"]
    list_display_links = None  # the short id links to the event; its copy button copies the full id
    list_filter = [EventTypeFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["subject"]  # see HistoryListMixin: exact, index-backed
    readonly_fields = [
        "id",
        "type",
        "source",
        "subject",
        "data_json",
        "idempotency_key",
        "creator",
        "created_at",
        "trace",
    ]
    fields = readonly_fields
    change_form_template = "admin/events/event/change_form.html"
    actions = ["resend_to_other_providers"]
    change_list_template = "admin/events/event/change_list.html"
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        return super().get_queryset(request).select_related("created_by").prefetch_related("deliveries")

    @admin.display(description="data")
    def data_json(self, obj: Event) -> SafeString:
        return format_html('<pre class="helios-json">{}</pre>', strictjson.pretty(obj.data))

    def search_q(self, term: str, events: EventMatch) -> Q:
        """The event by id or short id, or the events with that subject."""
        return events("pk")

    @admin.display(description="event id", ordering="id")
    def short_id(self, obj: Event) -> SafeString:
        return copyable(str(obj.id)[:8], str(obj.id), reverse("admin:events_event_change", args=[obj.id]))

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Event) -> SafeString:
        return moment(obj.created_at)

    @admin.display(description="created by")
    def creator(self, obj: Event) -> str:
        """The console user, the API key or the CLI, and from where ("-" for events from before
        HELIOS recorded it)."""
        user = obj.created_by.get_username() if obj.created_by else ""
        return ", ".join(part for part in (user, obj.created_from) if part) or "-"

    @admin.display(description="trace")
    def trace(self, obj: Event) -> str | SafeString:
        """The trace the event was created in, linked to the tracing UI when HELIOS_TRACE_URL
        names one ("-" when it was not traced)."""
        return trace_link(obj.traceparent)

    @admin.display(description="deliveries")
    def delivery_summary(self, obj: Event) -> SafeString:
        counts: dict[str, int] = {}
        for delivery in obj.deliveries.all():
            counts[delivery.status] = counts.get(delivery.status, 0) + 1
        return format_html_join(" ", "{}", ((badge(status, f"{n} {status}"),) for status, n in sorted(counts.items())))

    def get_urls(self):
        urls = [
            path("compose/", self.admin_site.admin_view(self.compose_view), name="events_event_compose"),
            path(
                "compose/preview/",
                self.admin_site.admin_view(self.compose_preview_view),
                name="events_event_compose_preview",
            ),
            path("<uuid:event_id>/status/", self.admin_site.admin_view(self.status_view), name="events_event_status"),
        ]
        return urls + super().get_urls()

    def has_resend_permission(self, request: HttpRequest) -> bool:
        """Resending is an operator's action, like retrying."""
        return request.user.has_perm("events.retry_delivery")

    @admin.action(description="Resend to other providers…", permissions=["resend"])
    def resend_to_other_providers(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Resend one event at a time.", messages.WARNING)
            return None
        event = queryset.get()
        used = set(event.deliveries.values_list("provider_id", flat=True))
        choices = ProviderConfig.objects.filter(enabled=True).exclude(pk__in=used).order_by("kind", "name")
        errors: list[str] = []
        names = ""
        if request.POST.get("confirm") == "yes":
            chosen = list(choices.filter(pk__in=request.POST.getlist("providers")))
            names = production_names(chosen)
            grant = ProductionGrant.typed(request.POST.get("confirm_production", ""))
            try:
                created = resend_to(event=event, providers=chosen, actor=Actor.from_request(request), grant=grant)
            except PublishRejected as rejected:
                confirm = " Tick the confirmation." if rejected.refusal == Refusal.PRODUCTION else ""
                errors = [error + confirm for error in rejected.errors]
            else:
                self.message_user(
                    request, f"Event {event.pk} resent to {plural(len(created), 'provider')}.", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:events_event_change", args=[event.pk]))
        context = page_context(
            self,
            request,
            f"Resend {event.type} {event.pk} to other providers",
            event=event,
            choices=choices,
            chosen={int(pk) for pk in request.POST.getlist("providers") if pk.isdigit()},
            production_names=names,
            errors=errors,
            action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
        )
        return TemplateResponse(request, "admin/events/event/resend.html", context)

    def status_view(self, request: HttpRequest, event_id: uuid.UUID) -> JsonResponse:
        """The event's deliveries as JSON, polled by its page until all are final."""
        event = get_object_or_404(Event, pk=event_id)
        if not self.has_view_permission(request, event):
            raise PermissionDenied
        rows = delivery_status_rows(event)
        return JsonResponse(
            {
                "event": str(event.id),
                "all_final": all(r["final"] for r in rows),
                "awaiting_round_trip": awaiting_round_trip(event),
                "deliveries": rows,
            }
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        event = self.get_object(request, object_id)
        extra = {
            "deliveries": delivery_status_rows(event) if event else [],
            "resends": list(Resend.objects.filter(delivery__event=event).select_related("delivery__provider", "item"))
            if event
            else [],
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra = {"can_compose": self.has_compose_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})
