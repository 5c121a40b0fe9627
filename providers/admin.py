"""Admin for provider configs: kind, mode badge, effective mode and why."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from helios_site.badges import badge

from .models import ProviderConfig
from .services import effective_mode


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "configured_mode", "effective_mode_display", "enabled", "target"]
    list_filter = ["kind", "mode", "enabled"]
    search_fields = ["name", "description"]
    readonly_fields = ["effective_mode_display", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "description", "mode", "effective_mode_display", "enabled"]}),
        (
            "AWS EventBridge",
            {
                "fields": ["aws_region", "aws_event_bus", "aws_source", "aws_max_entry_bytes"],
                "description": "Only for kind AWS EventBridge.",
            },
        ),
        ("GCP Pub/Sub", {"fields": ["gcp_project", "gcp_topic"], "description": "Only for kind GCP Pub/Sub."}),
        (
            "Azure Event Grid",
            {"fields": ["azure_endpoint", "azure_input_schema"], "description": "Only for kind Azure Event Grid."},
        ),
        ("Delivery policy", {"fields": ["max_attempts"]}),
        (
            "Demo rehearsal",
            {
                "fields": ["demo_failure_rate", "demo_latency_ms"],
                "description": "Used only while the effective mode is demo.",
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    class Media:
        css = {"all": ["helios/console.css"]}

    @admin.display(description="mode", ordering="mode")
    def configured_mode(self, obj: ProviderConfig) -> SafeString:
        return badge(obj.mode, obj.get_mode_display())

    @admin.display(description="effective mode")
    def effective_mode_display(self, obj: ProviderConfig) -> SafeString:
        if obj.pk is None:
            return format_html("{}", "-")
        mode = effective_mode(obj)
        return format_html('{} <span class="helios-note">{}</span>', badge(mode.mode), mode.reason)

    @admin.display(description="target")
    def target(self, obj: ProviderConfig) -> str:
        options = obj.options()
        if obj.kind == "aws_eventbridge":
            return f"{options['region']} · bus {options['event_bus']} · source {options['source']}"
        if obj.kind == "gcp_pubsub":
            return f"projects/{options['project']}/topics/{options['topic']}"
        return f"{options['endpoint']} ({options['input_schema']})"

    def has_delete_permission(self, request: HttpRequest, obj: ProviderConfig | None = None) -> bool:
        """A config with deliveries is history: it can be disabled, not deleted."""
        if obj is not None and obj.deliveries.exists():
            return False
        return super().has_delete_permission(request, obj)
