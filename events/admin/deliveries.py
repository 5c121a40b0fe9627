"""Deliveries: the read-only history with its attempts, retry now and streamed exports."""

import json

from django.contrib import admin, messages
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.audit import Actor
from core.badges import badge, clipped, copyable, moment, trace_link
from core.readonly import ReadOnlyAdminMixin
from core.strictjson import pretty
from providers.models import ProviderRuntime

from ..filters import ConfirmedFilter, DeliveryEventTypeFilter, ErrorCodeFilter, StatusesFilter
from ..models import Delivery, DeliveryAttempt, DeliveryStatus
from ..selectors import waiting_words
from ..services.exports import export_deliveries
from ..services.operator import retry_now, retry_outcome
from .history import EventMatch, HistoryListMixin, streamed


class DeliveryAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    fields = [
        "number",
        "mode",
        "started",
        "duration",
        "outcome_badge",
        "status_code",
        "error",
        "provider_message_id",
    ]
    readonly_fields = fields
    ordering = ["number"]
    extra = 0
    can_delete = False

    @admin.display(description="started (UTC)")
    def started(self, obj: DeliveryAttempt) -> str:
        return f"{obj.started_at:%Y-%m-%d %H:%M:%S.%f}"[:-3]

    @admin.display(description="provider call")
    def duration(self, obj: DeliveryAttempt) -> str:
        return f"{obj.duration_ms} ms"

    @admin.display(description="outcome")
    def outcome_badge(self, obj: DeliveryAttempt) -> SafeString:
        state = {"succeeded": "succeeded", "unknown": "unknown"}.get(obj.outcome, "failed")
        return badge(state, obj.get_outcome_display())

    @admin.display(description="error")
    def error(self, obj: DeliveryAttempt) -> SafeString | str:
        if not obj.error_code:
            return "—"
        return format_html('<code>{}</code> <span class="helios-note">{}</span>', obj.error_code, obj.error_message)


def readable(stored: str) -> str:
    """Stored JSON indented for reading; anything else (text, a capped body) as it is."""
    try:
        return pretty(json.loads(stored))
    except ValueError:
        return stored


@admin.register(Delivery)
class DeliveryAdmin(HistoryListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "event_link",
        "event_type",
        "provider_mode",
        "status_badge",
        "tries",
        "message_id",
        "error",
        "latency",
        "confirmed",
        "created",
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

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The delivery, its attempts, and for each what was sent and what came back."""
        attempts = DeliveryAttempt.objects.filter(delivery_id=object_id).order_by("number")
        exchanges = [
            {
                "attempt": a,
                "request": readable(a.request_body),
                "response": readable(a.response_body),
                "span_id": a.traceparent[36:52],
                "trace": trace_link(a.traceparent),
            }
            for a in attempts
        ]
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "exchanges": exchanges})

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.retry_delivery")

    @admin.action(description="Retry now (failed, dead or retrying)", permissions=["retry"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        selected = queryset.count()  # before the retry: a status filter would no longer match
        provider_ids = set(queryset.order_by().values_list("provider_id", flat=True).distinct())
        count = retry_now(deliveries=queryset, actor=Actor.from_request(request))
        retried, *held = retry_outcome(count, provider_ids)
        if skipped := selected - count:
            retried += f" {skipped} skipped (pending, sending or succeeded)."
        self.message_user(request, retried, messages.SUCCESS)
        for sentence in held:
            self.message_user(request, sentence, messages.WARNING)

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
        export = export_deliveries(
            queryset, fmt=fmt, actor=Actor.from_request(request), filters=request.GET.urlencode()
        )
        return streamed(export)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Also allow a bulk upload's and a replay's deliveries (linked from their pages)."""
        linked = ("event__bulk_upload__id__exact", "resends__replay__id__exact")
        return lookup in linked or super().lookup_allowed(lookup, value, request)

    def search_q(self, term: str, events: EventMatch) -> Q:
        """The deliveries of the event(s) the term names, or an exact provider message id (UUIDs for
        EventBridge, Event Grid)."""
        return events("event__id") | Q(provider_message_id=term)

    @admin.display(description="event", ordering="event__created_at")
    def event_link(self, obj: Delivery) -> SafeString:
        url = reverse("admin:events_event_change", args=[obj.event_id])
        return copyable(str(obj.event_id)[:8], str(obj.event_id), url)

    @admin.display(description="type", ordering="event__type")
    def event_type(self, obj: Delivery) -> str:
        return obj.event.type

    @admin.display(description="provider", ordering="provider__name")
    def provider_mode(self, obj: Delivery) -> SafeString:
        return format_html("{}<div>{}</div>", obj.provider.name, badge(obj.mode))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        """With each row's provider circuit (one subquery, not a query per row)."""
        runtime = ProviderRuntime.objects.filter(provider_id=OuterRef("provider_id"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                circuit_state=Subquery(runtime.values("circuit_state")[:1]),
                circuit_changed_at=Subquery(runtime.values("circuit_changed_at")[:1]),
            )
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Delivery) -> SafeString:
        """The status; an unfinished delivery also says what it waits for: an open circuit's
        probe, its next attempt, or a worker (due now)."""
        shown = badge(obj.status, obj.get_status_display())
        if obj.is_final or obj.status == DeliveryStatus.SENDING:
            return shown
        waiting = waiting_words(obj, getattr(obj, "circuit_state", None), getattr(obj, "circuit_changed_at", None))
        return format_html('{}<div class="helios-note">{}</div>', shown, waiting) if waiting else shown

    @admin.display(description="tries", ordering="attempts")
    def tries(self, obj: Delivery) -> int:
        return obj.attempts

    @admin.display(description="message id")
    def message_id(self, obj: Delivery) -> SafeString | str:
        if not obj.provider_message_id:
            return "—"
        return copyable(clipped_id(obj.provider_message_id), obj.provider_message_id)

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj: Delivery) -> str:
        return "—" if obj.latency_ms is None else f"{obj.latency_ms} ms"

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Delivery) -> SafeString:
        return moment(obj.created_at)

    @admin.display(description="confirmed", boolean=True, ordering="confirmed_at")
    def confirmed(self, obj: Delivery) -> bool | None:
        """Came back through the round-trip receiver (blank: not, or not yet)."""
        return True if obj.confirmed_at else None

    @admin.display(description="last error")
    def error(self, obj: Delivery) -> SafeString | str:
        """The code, and the message cut short (all of it on hover and on the delivery's page)."""
        if not obj.last_error_code:
            return ""
        return format_html("<code>{}</code> {}", obj.last_error_code, clipped(obj.last_error, 40))


def clipped_id(message_id: str) -> str:
    """A provider message id short enough for a list column."""
    return message_id if len(message_id) <= 12 else f"{message_id[:8]}…"
