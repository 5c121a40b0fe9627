"""The console's event pages: compose, live event page, read-only history."""

import json
import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core import audit, strictjson
from core.admin_pages import page_context
from core.audit import Actor
from core.badges import badge
from core.identifiers import parse_uuid
from core.models import AuditAction
from core.readonly import ReadOnlyAdminMixin
from providers.models import ProviderConfig
from providers.services import production_names, production_send_problem

from .bulk_admin import BulkUploadAdmin  # noqa: F401  (registers the bulk send pages)
from .dashboard import dashboard_context
from .filters import ConfirmedFilter, DeliveryEventTypeFilter, ErrorCodeFilter, EventTypeFilter, StatusesFilter
from .forms import ComposeEventForm, EventTemplateForm
from .models import Delivery, DeliveryAttempt, Event, EventTemplate
from .pagination import CappedCountPaginator
from .preview import compose_preview
from .roundtrip_admin import ReceiptAdmin  # noqa: F401  (registers the round-trip pages)
from .selectors import EXPORT_COLUMNS, delivery_status_rows, export_rows
from .services.operator import resend_to, retry_now
from .services.publishing import publish_event
from .services.validation import PublishRejected
from .streaming import csv_lines

#: Most events a subject search matches (subjects are usually unique per entity).
MAX_SUBJECT_MATCHES = 1000


class HistoryListMixin:
    """Event and delivery lists that stay fast at millions of rows.

    Search is exact and index-backed, never a LIKE scan: a UUID matches an event id (or, for
    deliveries, a provider message id); anything else an exact provider message id or an event
    subject (case-insensitive). Counts are capped or estimated (CappedCountPaginator)."""

    paginator = CappedCountPaginator
    show_full_result_count = False  # no second COUNT(*) over the whole table
    search_help_text = "An event id, a provider message id, or an event subject (exact, any case)."

    def search_q(self, term: str, event_id: uuid.UUID | None, subject_event_ids: list[uuid.UUID]) -> Q:
        """Rows a search term finds, given the term as an event id and the events with that subject."""
        raise NotImplementedError

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        event_id = parse_uuid(term)
        subject_ids = [] if event_id else _events_with_subject(term)
        return queryset.filter(self.search_q(term, event_id, subject_ids)), False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["selection_note_all"] = f"All {context['cl'].paginator.count_label} selected"
        return response


def _events_with_subject(term: str) -> list[uuid.UUID]:
    matches = Event.objects.filter(subject__iexact=term).order_by().values_list("id", flat=True)
    return list(matches[:MAX_SUBJECT_MATCHES])


@admin.register(Event)
class EventAdmin(HistoryListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["short_id", "type", "source", "subject", "created_at", "created_by", "delivery_summary"]
    list_filter = [EventTypeFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["subject"]  # see HistoryListMixin: exact, index-backed
    readonly_fields = ["id", "type", "source", "subject", "data_json", "idempotency_key", "created_by", "created_at"]
    fields = readonly_fields
    change_form_template = "admin/events/event/change_form.html"
    actions = ["resend_to_other_providers"]
    change_list_template = "admin/events/event/change_list.html"
    list_per_page = 50

    class Media:
        css = {"all": ["helios/console.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        return super().get_queryset(request).select_related("created_by").prefetch_related("deliveries")

    @admin.display(description="data")
    def data_json(self, obj: Event) -> SafeString:
        return format_html('<pre class="helios-json">{}</pre>', strictjson.pretty(obj.data))

    def search_q(self, term: str, event_id: uuid.UUID | None, subject_event_ids: list[uuid.UUID]) -> Q:
        """The event by id, or the events with that subject."""
        return Q(pk=event_id) if event_id else Q(pk__in=subject_event_ids)

    @admin.display(description="event id", ordering="id")
    def short_id(self, obj: Event) -> str:
        return str(obj.id)[:8]

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
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="events_dashboard"),
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
            try:
                if problem := production_send_problem(chosen, request.POST.get("confirm_production", "")):
                    raise PublishRejected([f"{problem} Tick the confirmation."])
                created = resend_to(event=event, providers=chosen, actor=Actor.from_request(request))
            except PublishRejected as rejected:
                errors = rejected.errors
            else:
                self.message_user(request, f"Event {event.pk} resent to {len(created)} provider(s).", messages.SUCCESS)
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

    def has_compose_permission(self, request: HttpRequest) -> bool:
        """Composing and sending needs the "add event" permission."""
        return request.user.has_perm("events.add_event")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:events_event_compose"))

    def compose_view(self, request: HttpRequest) -> HttpResponse:
        """Compose an event and send it to the chosen providers."""
        if not self.has_compose_permission(request):
            raise PermissionDenied
        request_error = ""
        template = EventTemplate.objects.filter(pk=request.GET.get("template") or None).first()
        original = Event.objects.filter(pk=parse_uuid(request.GET.get("from_event"))).first()
        try:
            if request.method == "POST":
                form = ComposeEventForm(request.POST)
            elif original is not None:
                form = ComposeEventForm.from_event(original)
            elif template is not None:
                form = ComposeEventForm.from_template(template)
            else:
                form = ComposeEventForm()
        except RequestDataTooBig:
            form = ComposeEventForm()
            request_error = (
                f"The form is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes the console accepts. "
                "Nothing was created."
            )
        if form.is_bound and form.is_valid():
            values = form.cleaned_data
            try:
                event = publish_event(
                    event_type=values["event_type"],
                    source=values["source"],
                    subject=values["subject"],
                    data=values["data"],
                    template=values["template"],
                    providers=list(values["providers"]),
                    actor=Actor.from_request(request),
                )
            except PublishRejected as rejected:
                for error in rejected.errors:
                    form.add_error("data", error)
            else:
                self.message_user(
                    request, f"Event {event.id} queued for {len(values['providers'])} provider(s).", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:events_event_change", args=[event.pk]))
        context = page_context(
            self,
            request,
            "Compose event",
            form=form,
            request_error=request_error,
            templates=EventTemplate.objects.all(),
            media=self.media + form.media,
        )
        return TemplateResponse(request, "admin/events/event/compose.html", context)

    def compose_preview_view(self, request: HttpRequest) -> JsonResponse:
        """The compose form's live check (POSTed as the operator types): nothing is created."""
        if not self.has_compose_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return JsonResponse({"error": "POST the compose form."}, status=405)
        ids = [pk for pk in request.POST.getlist("providers") if pk.isdigit()]
        template_id = request.POST.get("template", "")
        template = EventTemplate.objects.filter(pk=template_id).first() if template_id.isdigit() else None
        return JsonResponse(
            compose_preview(
                event_type=request.POST.get("event_type", ""),
                source=request.POST.get("source", ""),
                subject=request.POST.get("subject", ""),
                raw_data=request.POST.get("data", ""),
                providers=list(ProviderConfig.objects.filter(enabled=True, pk__in=ids).order_by("kind", "name")),
                template=template,
            )
        )

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        """Per-provider health over the last 24 hours and an hourly volume chart."""
        if not request.user.has_perm("events.view_delivery"):
            raise PermissionDenied
        context = page_context(
            self,
            request,
            "Dashboard: the last 24 hours",
            **dashboard_context(),
        )
        return TemplateResponse(request, "admin/events/dashboard.html", context)

    def status_view(self, request: HttpRequest, event_id: uuid.UUID) -> JsonResponse:
        """The event's deliveries as JSON, polled by its page until all are final."""
        event = get_object_or_404(Event, pk=event_id)
        if not self.has_view_permission(request, event):
            raise PermissionDenied
        rows = delivery_status_rows(event)
        return JsonResponse({"event": str(event.id), "all_final": all(r["final"] for r in rows), "deliveries": rows})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        event = self.get_object(request, object_id)
        extra = {"deliveries": delivery_status_rows(event) if event else []}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra = {"can_compose": self.has_compose_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})


@admin.register(EventTemplate)
class EventTemplateAdmin(admin.ModelAdmin):
    form = EventTemplateForm
    list_display = ["name", "event_type", "source", "has_schema", "description"]
    search_fields = ["name", "event_type", "source"]

    @admin.display(description="JSON Schema", boolean=True)
    def has_schema(self, obj: EventTemplate) -> bool:
        return bool(obj.json_schema)


class DeliveryAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    fields = [
        "number",
        "mode",
        "started_at",
        "duration",
        "outcome",
        "status_code",
        "error_code",
        "error_message",
        "provider_message_id",
    ]
    readonly_fields = fields
    ordering = ["number"]
    extra = 0
    can_delete = False

    @admin.display(description="duration")
    def duration(self, obj: DeliveryAttempt) -> str:
        return f"{obj.duration_ms} ms"


@admin.register(Delivery)
class DeliveryAdmin(HistoryListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "event_link",
        "event_type",
        "provider",
        "kind",
        "mode_badge",
        "status_badge",
        "attempts",
        "provider_message_id",
        "error",
        "latency_ms",
        "confirmed",
        "created_at",
    ]
    list_filter = [
        StatusesFilter,
        "mode",
        "provider__kind",
        "provider",
        ("created_at", admin.DateFieldListFilter),
        ErrorCodeFilter,
        DeliveryEventTypeFilter,
        ConfirmedFilter,
    ]
    search_fields = ["provider_message_id", "event__subject"]  # see HistoryListMixin: exact, index-backed
    list_select_related = ["event", "provider"]
    inlines = [DeliveryAttemptInline]
    actions = ["retry_selected", "export_csv", "export_jsonl"]
    list_per_page = 100
    fields = [
        "event_link",
        "provider",
        "mode",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_expires_at",
        "provider_message_id",
        "last_error_code",
        "last_error",
        "latency_ms",
        "created_at",
        "updated_at",
        "completed_at",
        "confirmed_at",
        "confirmed_via",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["helios/console.css"]}

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.retry_delivery")

    @admin.action(description="Retry now (failed, dead or retrying)", permissions=["retry"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        selected = queryset.count()  # before the retry: a status filter would no longer match
        count = retry_now(deliveries=queryset, actor=Actor.from_request(request))
        skipped = selected - count
        note = f"; {skipped} skipped (pending, sending or succeeded)" if skipped else ""
        self.message_user(request, f"{count} deliveries will be retried now{note}.", messages.SUCCESS)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.export_delivery")

    @admin.action(description="Export as CSV (streamed)", permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> StreamingHttpResponse:
        return self._export(request, queryset, "csv")

    @admin.action(description="Export as JSON Lines (streamed)", permissions=["export"])
    def export_jsonl(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> StreamingHttpResponse:
        return self._export(request, queryset, "jsonl")

    def _export(self, request: HttpRequest, queryset: QuerySet[Delivery], fmt: str) -> StreamingHttpResponse:
        """Stream the chosen deliveries (use "select all" for the whole filtered set); audited."""
        audit.record(
            actor=Actor.from_request(request),
            action=AuditAction.EXPORT,
            target=f"{fmt} export",
            summary=f"Exported deliveries as {fmt}",
            details={"filters": request.GET.urlencode()},
        )
        rows = export_rows(queryset)
        if fmt == "csv":
            lines = csv_lines(EXPORT_COLUMNS, rows)
            content_type = "text/csv; charset=utf-8"
        else:
            lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            content_type = "application/x-ndjson"
        response = StreamingHttpResponse(lines, content_type=content_type)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="helios-deliveries-{stamp}.{fmt}"'
        return response

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Also allow a bulk upload's deliveries (linked from the upload's page)."""
        return lookup == "event__bulk_upload__id__exact" or super().lookup_allowed(lookup, value, request)

    def search_q(self, term: str, event_id: uuid.UUID | None, subject_event_ids: list[uuid.UUID]) -> Q:
        """The event's deliveries, or an exact provider message id (UUIDs for EventBridge, Event Grid)."""
        events = Q(event_id=event_id) if event_id else Q(event_id__in=subject_event_ids)
        return events | Q(provider_message_id=term)

    @admin.display(description="event", ordering="event__created_at")
    def event_link(self, obj: Delivery) -> SafeString:
        url = reverse("admin:events_event_change", args=[obj.event_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.event_id)[:8])

    @admin.display(description="type", ordering="event__type")
    def event_type(self, obj: Delivery) -> str:
        return obj.event.type

    @admin.display(description="kind", ordering="provider__kind")
    def kind(self, obj: Delivery) -> str:
        return obj.provider.get_kind_display()

    @admin.display(description="mode", ordering="mode")
    def mode_badge(self, obj: Delivery) -> SafeString:
        return badge(obj.mode)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Delivery) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="confirmed", boolean=True, ordering="confirmed_at")
    def confirmed(self, obj: Delivery) -> bool | None:
        """Came back through the round-trip receiver (blank: not, or not yet)."""
        return True if obj.confirmed_at else None

    @admin.display(description="last error")
    def error(self, obj: Delivery) -> str:
        if not obj.last_error_code:
            return ""
        return f"{obj.last_error_code}: {obj.last_error[:120]}"
