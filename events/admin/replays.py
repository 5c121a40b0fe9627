"""Replays in the console (Operator role): choose a window and filters, see a dry run (count and
sample), start it (production targets need the named confirmation), watch its progress, cancel."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from core.admin_pages import page_context
from core.audit import Actor
from core.badges import badge
from core.permissions import require
from core.readonly import ReadOnlyAdminMixin
from providers.models import ProviderConfig
from providers.production import ProductionGrant

from ..models import DeliveryStatus, Replay, ReplayState
from ..services.replay import MAX_RATE, ReplayFilter, cancel_replay, dry_run, start_replay
from ..services.validation import PublishRejected

STATE_BADGES = {
    ReplayState.QUEUED: "pending",
    ReplayState.RUNNING: "retrying",
    ReplayState.DONE: "succeeded",
    ReplayState.CANCELLED: "unknown",
    ReplayState.FAILED: "failed",
}
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S")


class ReplayForm(forms.Form):
    since = forms.DateTimeField(widget=DATETIME, help_text="Events created from this time (UTC)…")
    until = forms.DateTimeField(widget=DATETIME, help_text="…until this time (UTC, not included).")
    event_type = forms.CharField(required=False, label="Type")
    source = forms.CharField(required=False)
    subject_prefix = forms.CharField(required=False, help_text="Subjects starting with this.")
    provider = forms.ModelChoiceField(
        ProviderConfig.objects.order_by("name"),
        required=False,
        to_field_name="name",
        label="Originally sent to",
        help_text="Only events with a delivery to this config…",
    )
    status = forms.ChoiceField(
        choices=[("", "any"), *DeliveryStatus.choices], required=False, help_text="…with this status."
    )
    route = forms.CharField(required=False, help_text="…made by this route (its name).")
    providers = forms.ModelMultipleChoiceField(
        ProviderConfig.objects.filter(enabled=True).order_by("kind", "name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Send to",
    )
    rate_per_second = forms.IntegerField(min_value=1, max_value=MAX_RATE, initial=50, label="Events a second")
    confirm_production = forms.CharField(
        required=False, help_text="A production config among them: type the production configs' names."
    )

    def choice(self) -> ReplayFilter:
        values = self.cleaned_data
        return ReplayFilter(
            since=values["since"],
            until=values["until"],
            event_type=values["event_type"],
            source=values["source"],
            subject_prefix=values["subject_prefix"],
            provider=values["provider"].name if values["provider"] else "",
            status=values["status"],
            route=values["route"],
        )


@admin.register(Replay)
class ReplayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "state_badge", "progress", "targets", "chosen", "created_at", "created_by"]
    list_filter = ["state"]
    list_select_related = ["created_by"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("providers")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("events.replay_events")

    @admin.display(description="state")
    def state_badge(self, obj: Replay) -> SafeString:
        return badge(STATE_BADGES[obj.state], obj.get_state_display().lower())

    @admin.display(description="progress")
    def progress(self, obj: Replay) -> str:
        return f"{obj.done:,} of {obj.total:,} events ({obj.percent} %)"

    @admin.display(description="to")
    def targets(self, obj: Replay) -> str:
        return ", ".join(p.name for p in obj.providers.all())

    @admin.display(description="events")
    def chosen(self, obj: Replay) -> str:
        return ReplayFilter.of(obj).describe()

    def get_urls(self):
        own = [
            path(
                "<int:replay_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="events_replay_progress",
            ),
            path("<int:replay_id>/cancel/", self.admin_site.admin_view(self.cancel_view), name="events_replay_cancel"),
        ]
        return own + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        """The replay form: a dry run first (count and sample), then start."""
        require(request.user, "events.replay_events", to="replay events")
        now = timezone.now().replace(microsecond=0)
        form = ReplayForm(request.POST or None, initial={"since": now - timezone.timedelta(hours=1), "until": now})
        errors: list[str] = []
        preview: dict[str, Any] | None = None
        if request.method == "POST" and form.is_valid():
            choice = form.choice()
            count, sample = dry_run(choice)
            preview = {"count": count, "sample": sample, "described": choice.describe()}
            if "_start" in request.POST:
                try:
                    replay = start_replay(
                        choice,
                        list(form.cleaned_data["providers"]),
                        rate_per_second=form.cleaned_data["rate_per_second"],
                        grant=ProductionGrant.typed(form.cleaned_data["confirm_production"]),
                        actor=Actor.from_request(request),
                    )
                except PublishRejected as rejected:
                    errors = rejected.errors
                else:
                    self.message_user(
                        request, f"Replay #{replay.pk}: {replay.total:,} events queued.", messages.SUCCESS
                    )
                    return HttpResponseRedirect(reverse("admin:events_replay_change", args=[replay.pk]))
        context = page_context(self, request, "Replay a window", form=form, errors=errors, preview=preview)
        return TemplateResponse(request, "admin/events/replay/form.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        """The replay's page: what it sends where, its live progress, and Cancel."""
        replay = get_object_or_404(Replay, pk=object_id)
        if not self.has_view_permission(request, replay):
            raise PermissionDenied
        context = page_context(
            self,
            request,
            f"Replay #{replay.pk}",
            replay=replay,
            targets=self.targets(replay),
            chosen=self.chosen(replay),
            can_cancel=request.user.has_perm("events.replay_events") and not replay.final,
            deliveries_url=reverse("admin:events_delivery_changelist") + f"?resends__replay__id__exact={replay.pk}",
        )
        return TemplateResponse(request, "admin/events/replay/progress.html", context)

    def progress_view(self, request: HttpRequest, replay_id: int) -> JsonResponse:
        """The replay's progress as JSON, polled by its page."""
        replay = get_object_or_404(Replay, pk=replay_id)
        if not self.has_view_permission(request, replay):
            raise PermissionDenied
        fields = ("state", "total", "done", "sent", "skipped", "percent", "final")
        return JsonResponse({name: getattr(replay, name) for name in fields})

    def cancel_view(self, request: HttpRequest, replay_id: int) -> HttpResponse:
        """Cancel (POST): the replay stops before its next batch."""
        require(request.user, "events.replay_events", to="cancel a replay")
        replay = get_object_or_404(Replay, pk=replay_id)
        if request.method == "POST":
            cancel_replay(replay, actor=Actor.from_request(request))
            self.message_user(request, f"Replay #{replay.pk} cancelled: what was sent stays sent.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:events_replay_change", args=[replay.pk]))
