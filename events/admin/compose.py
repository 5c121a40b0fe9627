"""Compose an event and its live check: the console's way to publish one event."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from core.admin_pages import page_context
from core.audit import Actor
from core.badges import plural
from core.identifiers import parse_uuid
from core.permissions import require
from providers.models import ProviderConfig

from ..forms import ComposeEventForm
from ..models import Event, EventTemplate
from ..preview import compose_preview
from ..services.publishing import PublishRequest, publish
from ..services.validation import PublishRejected


class ComposeViews:
    """Compose and its live check, for the event admin (its URLs are in EventAdmin.get_urls)."""

    def has_compose_permission(self, request: HttpRequest) -> bool:
        """Composing and sending needs the "add event" permission."""
        return request.user.has_perm("events.add_event")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:events_event_compose"))

    def compose_view(self, request: HttpRequest) -> HttpResponse:
        """Compose an event and send it to the chosen providers."""
        require(request.user, "events.add_event", to="compose and send events")
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
            request_to_publish = PublishRequest(
                events=[form.spec()], actor=Actor.from_request(request), grant=form.grant
            )
            try:
                [published] = publish(request_to_publish)
            except PublishRejected as rejected:
                form.show_refusal(rejected, field="data")
            else:
                event = published.event
                count = event.deliveries.count()
                self.message_user(
                    request, f"Event {event.id} queued for {plural(count, 'provider')}.", messages.SUCCESS
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
        require(request.user, "events.add_event", to="check an event before sending it")
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
