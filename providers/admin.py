"""Admin for provider configs: effective mode, connection tests, audited mode switches."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString

from core.admin_pages import page_context
from core.audit import Actor
from core.badges import badge
from core.readonly import ReadOnlyAdminMixin

from .changes import delete_config, record_config_saved, record_receiver_saved
from .checks import check_cloud, check_connection
from .circuit import circuit_status
from .kinds import SPECS, spec_for
from .models import (
    CircuitState,
    ModeChange,
    ProviderConfig,
    ProviderMode,
)
from .modes import deployment_allows_production, effective_mode, resolve_credentials
from .production import production_target_problem
from .receiver_admin import ReceiverSettingsInline
from .switching import ModeSwitchRefused, switch_mode


class ProviderConfigForm(forms.ModelForm):
    """The config form; a production config's target changes need a typed confirmation."""

    confirm_production_target = forms.CharField(
        required=False,
        label="Confirm the new production target",
        help_text="Only when changing where a PRODUCTION config sends (region, bus, endpoint, project, topic, "
        "emulator host, credentials): type the config's name.",
    )
    #: Who is saving (set per request by ProviderConfigAdmin.get_form).
    actor: Actor = Actor()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:  # a new config: the page hides the round trip for kinds without one
            no_round_trip = ",".join(spec.name for spec in SPECS if not spec.round_trip)
            self.fields["kind"].widget.attrs["data-no-round-trip"] = no_round_trip

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        problem = production_target_problem(
            config=self.instance,
            changed=self.changed_data,
            actor=self.actor,
            confirmation=cleaned.get("confirm_production_target", ""),
        )
        if problem:
            raise forms.ValidationError(problem, code="production_target")
        return cleaned


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    form = ProviderConfigForm
    inlines = [ReceiverSettingsInline]

    def get_inlines(self, request: HttpRequest, obj: ProviderConfig | None) -> list:
        """The round trip's inline, unless the config's kind has none (a webhook)."""
        if obj is not None and not spec_for(obj.kind).round_trip:
            return []
        return super().get_inlines(request, obj)

    list_display = [
        "name",
        "kind",
        "configured_mode",
        "effective_mode_display",
        "enabled",
        "circuit",
        "target",
        "last_check",
    ]
    list_filter = ["kind", "mode", "enabled"]
    search_fields = ["name", "description"]
    readonly_fields = [
        "mode",
        "effective_mode_display",
        "credentials_display",
        "last_check",
        "circuit",
        "created_at",
        "updated_at",
    ]
    actions = ["test_connection", "test_cloud", "switch_to_production", "switch_to_demo"]
    change_form_template = "admin/providers/providerconfig/change_form.html"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["kind", "name", "description", "enabled"]}),
        (
            "Mode",
            {
                "fields": ["mode", "effective_mode_display", "credentials_display", "last_check"],
                "description": (
                    "Switch modes with the buttons above (or the list's actions): every switch is confirmed "
                    "and audited."
                ),
            },
        ),
        *(spec.admin_fieldset() for spec in SPECS),
        ("Credentials", {"fields": ["credentials_env_prefix"]}),
        (
            "Delivery policy",
            {
                "fields": [
                    "max_attempts",
                    "max_age_hours",
                    "rate_limit_per_second",
                    "circuit_failure_threshold",
                    "circuit_cooldown_seconds",
                    "circuit",
                ]
            },
        ),
        (
            "Demo rehearsal",
            {
                "fields": ["demo_failure_rate", "demo_latency_ms"],
                "description": "Used only for deliveries sent in demo mode.",
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="mode", ordering="mode")
    def configured_mode(self, obj: ProviderConfig) -> SafeString:
        return badge(obj.mode, obj.get_mode_display())

    @admin.display(description="effective mode")
    def effective_mode_display(self, obj: ProviderConfig) -> SafeString:
        if obj.pk is None:
            return format_html("{}", "demo (new configs start in demo)")
        mode = effective_mode(obj)
        return format_html('{} <span class="helios-note">{}</span>', badge(mode.mode), mode.reason)

    @admin.display(description="credentials")
    def credentials_display(self, obj: ProviderConfig) -> str:
        if obj.pk is None:
            return "-"
        found = resolve_credentials(obj)
        return found.source if found.ok else f"not resolved: {found.problem}"

    @admin.display(description="cloud test", ordering="last_check_at")
    def last_check(self, obj: ProviderConfig) -> SafeString:
        """The last real-cloud test: a health badge for production, readiness (no alarm) for demo."""
        verdict = "never tested" if obj.last_check_at is None else ("passed" if obj.last_check_ok else "failed")
        when = obj.last_check_at.strftime("%Y-%m-%d %H:%M:%S UTC") if obj.last_check_at else ""
        if obj.mode == ProviderMode.DEMO:
            return format_html(
                '<span class="helios-note" title="{}">demo: no cloud call · production readiness {} {}</span>',
                obj.last_check_message,
                verdict,
                when,
            )
        if obj.last_check_at is None:
            return format_html("{}", verdict)
        return format_html(
            '{} {} <span class="helios-note">{}</span>',
            badge("succeeded" if obj.last_check_ok else "failed", verdict),
            when,
            obj.last_check_message,
        )

    @admin.display(description="circuit")
    def circuit(self, obj: ProviderConfig) -> SafeString:
        status = circuit_status(obj) if obj.pk else None
        if status is None or status.is_closed:
            return badge("succeeded", "closed")
        return format_html(
            '{} <span class="helios-note" title="{}">{}</span>',
            badge("failed" if status.state == CircuitState.OPEN else "retrying", status.short()),
            status.sentence(),
            status.reason,
        )

    @admin.display(description="target")
    def target(self, obj: ProviderConfig) -> str:
        return spec_for(obj.kind).describe_target(obj.options())

    def get_form(self, request: HttpRequest, obj: ProviderConfig | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": Actor.from_request(request)})

    def get_readonly_fields(self, request: HttpRequest, obj: ProviderConfig | None = None) -> list[str]:
        """A saved config keeps its kind: another cloud is another config."""
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "kind"] if obj is not None else fields

    def get_fieldsets(self, request: HttpRequest, obj: ProviderConfig | None = None) -> list:
        """A saved config shows its own kind's options only; a new one shows every kind's."""
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            others = {spec.label for spec in SPECS if spec.name != obj.kind}
            fieldsets = [fieldset for fieldset in fieldsets if fieldset[0] not in others]
        if obj is not None and obj.mode == ProviderMode.PRODUCTION:
            fieldsets.insert(1, ("Production target", {"fields": ["confirm_production_target"]}))
        return fieldsets

    def has_delete_permission(self, request: HttpRequest, obj: ProviderConfig | None = None) -> bool:
        """A config with deliveries is history: it can be disabled, not deleted."""
        if obj is not None and obj.deliveries.exists():
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: ProviderConfig, form: object, change: bool) -> None:
        super().save_model(request, obj, form, change)
        record_config_saved(
            actor=Actor.from_request(request),
            config=obj,
            created=not change,
            changed=sorted(set(form.changed_data) - {"confirm_production_target"}) if change else [],
            before=form.initial,
        )

    def save_formset(self, request: HttpRequest, form: object, formset: object, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        record_receiver_saved(
            actor=Actor.from_request(request),
            config=form.instance,
            changed=sorted({name for f in formset.forms for name in f.changed_data}),
            removed=bool(formset.deleted_objects),
        )

    def delete_model(self, request: HttpRequest, obj: ProviderConfig) -> None:
        delete_config(actor=Actor.from_request(request), config=obj)

    def has_switch_mode_permission(self, request: HttpRequest) -> bool:
        """Switching to production needs the dedicated permission."""
        return request.user.has_perm("providers.switch_mode")

    @admin.action(description="Test connection (demo: its settings; production: the cloud)", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> HttpResponse | None:
        for config in queryset:
            result = check_connection(config, actor=Actor.from_request(request))
            level = messages.SUCCESS if result.ok else messages.ERROR
            verdict = "passed" if result.ok else "failed"
            self.message_user(request, f"Connection test of {config.name} {verdict}: {result.message}", level)
        return back_to_page(request)

    @admin.action(description="Test the real cloud (production readiness)", permissions=["change"])
    def test_cloud(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> HttpResponse | None:
        for config in queryset:
            result = check_cloud(config, actor=Actor.from_request(request))
            if result.ok:
                self.message_user(request, f"{config.name} reached the real cloud: {result.message}", messages.SUCCESS)
            else:
                level = messages.ERROR if config.mode == ProviderMode.PRODUCTION else messages.WARNING
                ready = "" if config.mode == ProviderMode.PRODUCTION else " (demo sending is not affected)"
                self.message_user(request, f"{config.name} is not ready for production{ready}: {result.message}", level)
        return back_to_page(request)

    @admin.action(description="Switch to production…", permissions=["switch_mode"])
    def switch_to_production(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Switch one provider config at a time.", messages.WARNING)
            return None
        config = queryset.get()
        error = ""
        if request.POST.get("confirm") == "yes":
            try:
                change = switch_mode(
                    config=config,
                    to_mode=ProviderMode.PRODUCTION,
                    actor=Actor.from_request(request),
                    reason=request.POST.get("reason", ""),
                )
            except ModeSwitchRefused as refused:
                error = str(refused)
            else:
                self.message_user(
                    request,
                    f"{config.name} switched to production. Effective mode: {change.effective_mode} "
                    f"({change.effective_reason}).",
                    messages.SUCCESS if change.effective_mode == ProviderMode.PRODUCTION else messages.WARNING,
                )
                return back_to_page(request)
        found = resolve_credentials(config)
        context = page_context(
            self,
            request,
            f"Switch {config.name} to production?",
            config=config,
            credentials=found,
            deployment_mode=settings.HELIOS_DEPLOYMENT_MODE,
            deployment_allows=deployment_allows_production(),
            error=error,
            reason=request.POST.get("reason", ""),
            action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
            next=safe_next(request),
        )
        return TemplateResponse(request, "admin/providers/providerconfig/switch_to_production.html", context)

    @admin.action(description="Switch back to demo", permissions=["change"])
    def switch_to_demo(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> HttpResponse | None:
        for config in queryset.filter(mode=ProviderMode.PRODUCTION):
            switch_mode(
                config=config,
                to_mode=ProviderMode.DEMO,
                actor=Actor.from_request(request),
                reason="switched back to demo from the console",
            )
            self.message_user(request, f"Switched {config.name} back to demo mode.", messages.SUCCESS)
        return back_to_page(request)


def safe_next(request: HttpRequest) -> str:
    """The page an action was started from (the config's own page), when it is on this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return ""


def back_to_page(request: HttpRequest) -> HttpResponse | None:
    """Back to the config's page after its own buttons; None (the list) after a list action."""
    target = safe_next(request)
    return HttpResponseRedirect(target) if target else None


@admin.register(ModeChange)
class ModeChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit of mode switches: read-only."""

    list_display = [
        "changed_at",
        "provider",
        "from_mode",
        "to_mode",
        "effective_mode",
        "changed_by",
        "reason",
        "remote_addr",
    ]
    list_filter = ["to_mode", "effective_mode", "provider", "changed_by"]
    search_fields = ["reason", "provider__name", "changed_by__username"]
    date_hierarchy = "changed_at"
    list_select_related = ["provider", "changed_by"]
