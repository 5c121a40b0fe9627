"""The console's round trip: receipts, reconciliation reports and their findings."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin_pages import page_context
from core.audit import Actor
from core.badges import plural
from core.permissions import require
from core.readonly import ReadOnlyAdminMixin
from providers.models import ProviderConfig, ReceiverSettings

from ..models import Receipt, ReconciliationItem, ReconciliationReport
from ..services.exports import export_findings
from ..services.healing import heal, healing_words
from ..services.reconcile import reconcile, retry_missing
from .history import streamed


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["key", "provider", "matched", "arrivals", "subject", "subscription", "first_received_at"]
    list_filter = [
        "provider",
        ("delivery", admin.EmptyFieldListFilter),
        ("first_received_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["provider"]
    search_fields = ["=key", "=message_id"]
    show_full_result_count = False
    fields = [
        "provider",
        "key",
        "event",
        "delivery",
        "message_id",
        "subscription",
        "subject",
        "arrivals",
        "first_received_at",
        "last_received_at",
        "body",
    ]
    readonly_fields = fields

    @admin.display(description="matched", boolean=True)
    def matched(self, obj: Receipt) -> bool:
        return obj.delivery_id is not None


class ReconcileForm(forms.Form):
    """Which provider config and window to reconcile now."""

    provider = forms.ModelChoiceField(
        queryset=ProviderConfig.objects.filter(receiver__isnull=False).order_by("name"),
        help_text="Provider configs with a round-trip receiver.",
    )
    hours = forms.IntegerField(min_value=1, max_value=24 * 31, initial=24, label="Last N hours")
    grace_seconds = forms.IntegerField(min_value=0, required=False, help_text="Blank: the receiver's own grace period.")


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "provider",
        "window_start",
        "window_end",
        "sent",
        "received",
        "missing",
        "duplicated",
        "unexpected",
        "out_of_order",
        "created_at",
    ]
    list_filter = ["provider", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["provider"]
    actions = ["retry_missing_events", "export_findings"]
    fields = [
        "provider",
        "window_start",
        "window_end",
        "window_note",
        "grace_seconds",
        "created_at",
        "created_by",
        "sent",
        "received",
        "missing",
        "duplicated",
        "unexpected",
        "out_of_order",
        "findings",
        "healing_policy",
    ]
    readonly_fields = fields
    change_list_template = "admin/events/reconciliationreport/change_list.html"
    change_form_template = "admin/events/reconciliationreport/change_form.html"

    @admin.display(description="healing policy")
    def healing_policy(self, obj: ReconciliationReport) -> str:
        receiver = ReceiverSettings.objects.filter(provider_id=obj.provider_id).first()
        return receiver.get_healing_display() if receiver else "no receiver"

    @admin.display(description="findings")
    def findings(self, obj: ReconciliationReport) -> SafeString:
        url = reverse("admin:events_reconciliationitem_changelist") + f"?report__id__exact={obj.pk}"
        return format_html('<a href="{}">{} findings</a>', url, obj.items.count())

    def get_urls(self):
        run = path("run/", self.admin_site.admin_view(self.run_view), name="events_reconciliationreport_run")
        resend = path(
            "<int:report_id>/resend-missing/",
            self.admin_site.admin_view(self.resend_missing_view),
            name="events_reconciliationreport_resend_missing",
        )
        return [run, resend, *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra = {"can_resend": self.has_retry_permission(request)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def resend_missing_view(self, request: HttpRequest, report_id: int) -> HttpResponse:
        """The report page's *Resend missing events* (POST): as the list action, for this report."""
        require(request.user, "events.retry_delivery", to="resend missing events")
        report = get_object_or_404(ReconciliationReport, pk=report_id)
        if request.method == "POST":
            count = retry_missing(report=report, actor=Actor.from_request(request))
            said = f"{plural(count, 'missing event')} will be sent again." if count else "Nothing to send again."
            self.message_user(request, said, messages.SUCCESS if count else messages.INFO)
        return HttpResponseRedirect(reverse("admin:events_reconciliationreport_change", args=[report.pk]))

    def has_run_permission(self, request: HttpRequest) -> bool:
        """Running a reconciliation is an operator's action."""
        return request.user.has_perm("events.retry_delivery")

    def run_view(self, request: HttpRequest) -> HttpResponse:
        """Reconcile one provider config's last N hours now."""
        require(request.user, "events.retry_delivery", to="run a reconciliation")
        form = ReconcileForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            values = form.cleaned_data
            report = reconcile(
                provider=values["provider"],
                since=timezone.now() - timedelta(hours=values["hours"]),
                grace_seconds=values["grace_seconds"],
                actor=Actor.from_request(request),
            )
            said = " ".join(
                part
                for part in (
                    f"Reconciliation #{report.pk} of {report.provider.name} done: {report.missing} missing.",
                    report.window_note,
                    healing_words(report, heal(report)),
                )
                if part
            )
            self.message_user(request, said, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:events_reconciliationreport_change", args=[report.pk]))
        context = page_context(
            self,
            request,
            "Reconcile now",
            form=form,
            has_receivers=ReceiverSettings.objects.filter(enabled=True).exists(),
        )
        return TemplateResponse(request, "admin/events/reconciliationreport/run.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra = {"can_run": self.has_run_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.retry_delivery")

    @admin.action(description="Resend missing events (same event ids)", permissions=["retry"])
    def retry_missing_events(self, request: HttpRequest, queryset: QuerySet[ReconciliationReport]) -> None:
        actor = Actor.from_request(request)
        count = sum(retry_missing(report=report, actor=actor) for report in queryset)
        self.message_user(request, f"{count} missing events will be sent again.", messages.SUCCESS)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.export_delivery")

    @admin.action(description="Export the findings as CSV (streamed)", permissions=["export"])
    def export_findings(self, request: HttpRequest, queryset: QuerySet[ReconciliationReport]) -> StreamingHttpResponse:
        reports = list(queryset.values_list("pk", flat=True))
        return streamed(export_findings(reports, actor=Actor.from_request(request)))


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["report_link", "kind_short", "key", "delivery_link", "receipt_link", "detail"]
    list_display_links = None  # each column links where it names
    list_filter = ["kind", "report__provider"]
    list_select_related = [
        "report",
        "report__provider",
        "delivery",
        "delivery__provider",
        "receipt",
        "receipt__provider",
    ]
    search_fields = ["=key"]
    readonly_fields = ["report", "kind", "key", "delivery", "receipt", "detail"]
    fields = readonly_fields

    @admin.display(description="report", ordering="report")
    def report_link(self, obj: ReconciliationItem) -> SafeString:
        url = reverse("admin:events_reconciliationreport_change", args=[obj.report_id])
        return format_html('<a href="{}">#{} {}</a>', url, obj.report_id, obj.report.provider.name)

    @admin.display(description="kind", ordering="kind")
    def kind_short(self, obj: ReconciliationItem) -> SafeString:
        return format_html('<span title="{}">{}</span>', obj.get_kind_display(), obj.kind.replace("_", " "))

    @admin.display(description="delivery")
    def delivery_link(self, obj: ReconciliationItem) -> SafeString | str:
        if obj.delivery is None:
            return "-"
        url = reverse("admin:events_delivery_change", args=[obj.delivery_id])
        return format_html('<a href="{}">{}</a>', url, obj.delivery)

    @admin.display(description="receipt")
    def receipt_link(self, obj: ReconciliationItem) -> SafeString | str:
        if obj.receipt is None:
            return "-"
        url = reverse("admin:events_receipt_change", args=[obj.receipt_id])
        return format_html(
            '<a href="{}" title="{}">{}</a>', url, obj.receipt.key, plural(obj.receipt.arrivals, "arrival")
        )

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Findings of one report (linked from the report's page)."""
        return lookup == "report__id__exact" or super().lookup_allowed(lookup, value, request)
