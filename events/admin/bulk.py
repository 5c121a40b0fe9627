"""The console's bulk send: upload a file (or N events from a template), then watch its progress."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin_pages import page_context
from core.audit import Actor
from core.permissions import require
from core.readonly import ReadOnlyAdminMixin

from ..forms import BulkUploadForm
from ..models import BulkUpload
from ..selectors import bulk_progress
from ..services.bulk import send_upload, shown
from ..services.validation import PublishRejected, Refusal


@admin.register(BulkUpload)
class BulkUploadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "created_by", "source", "filename", "event_count", "provider_names"]
    list_filter = ["source", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["created_by"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("providers")

    @admin.display(description="providers")
    def provider_names(self, obj: BulkUpload) -> str:
        return ", ".join(sorted(p.name for p in obj.providers.all()))

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Uploading is an operator's action: permission `events.bulk_send`."""
        return request.user.has_perm("events.bulk_send")

    def get_urls(self):
        urls = [
            path(
                "<int:upload_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="events_bulkupload_progress",
            ),
        ]
        return urls + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        """The upload form: checked line by line; a bad file creates nothing."""
        require(request.user, "events.bulk_send", to="bulk send events")
        form = BulkUploadForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                upload = self._send(request, form)
            except PublishRejected as rejected:
                if rejected.refusal == Refusal.PRODUCTION:
                    form.show_refusal(rejected, field=None)
                else:
                    errors = shown(rejected.errors)
            else:
                self.message_user(
                    request, f"Bulk upload #{upload.pk}: {upload.event_count:,} events queued.", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:events_bulkupload_change", args=[upload.pk]))
        context = page_context(
            self,
            request,
            "Bulk send",
            form=form,
            errors=errors,
            media=self.media + form.media,
        )
        return TemplateResponse(request, "admin/events/bulkupload/upload.html", context)

    def _send(self, request: HttpRequest, form: BulkUploadForm) -> BulkUpload:
        values = form.cleaned_data
        upload = values["file"]
        return send_upload(
            content=upload.read() if upload else None,
            filename=upload.name if upload else "",
            file_format=form.file_format,
            count=values["count"],
            template=values["template"],
            event_type=values["event_type"],
            source=values["source"],
            providers=list(values["providers"]),
            actor=Actor.from_request(request),
            grant=form.grant,
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        """The upload's page: what was sent where, and a live progress bar until every delivery is final."""
        upload = get_object_or_404(BulkUpload, pk=object_id)
        if not self.has_view_permission(request, upload):
            raise PermissionDenied
        context = page_context(
            self,
            request,
            f"Bulk upload #{upload.pk}",
            upload=upload,
            providers=self.provider_names(upload),
            progress=bulk_progress(upload),
            deliveries_url=reverse("admin:events_delivery_changelist") + f"?event__bulk_upload__id__exact={upload.pk}",
        )
        return TemplateResponse(request, "admin/events/bulkupload/progress.html", context)

    def progress_view(self, request: HttpRequest, upload_id: int) -> JsonResponse:
        """The upload's delivery counts as JSON, polled by its page."""
        upload = get_object_or_404(BulkUpload, pk=upload_id)
        if not self.has_view_permission(request, upload):
            raise PermissionDenied
        return JsonResponse(bulk_progress(upload))
