"""API keys in the console (Admin role): made with the secret shown once, revoked, never edited."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin_pages import page_context
from core.audit import Actor
from core.badges import badge, moment

from .keys import create_key, revoke_key
from .models import ApiKey


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "providers", "allow_production", "expires_at", "rate_limit_per_minute"]
        widgets = {"providers": forms.CheckboxSelectMultiple}


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "scope", "production", "state", "expires_at", "last_used"]
    list_filter = ["allow_production"]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        """A key is made once: afterwards it can be read and revoked, not edited."""
        if obj is None:
            return []
        return [
            "name",
            "prefix",
            "providers",
            "allow_production",
            "expires_at",
            "rate_limit_per_minute",
            "created_by",
            "created_at",
            "revoked_at",
            "last_used_at",
            "last_used_from",
        ]

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: the record stays

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            return
        values = form.cleaned_data
        made = create_key(
            name=values["name"],
            providers=list(values["providers"]),
            allow_production=values["allow_production"],
            expires_at=values["expires_at"],
            rate_limit_per_minute=values["rate_limit_per_minute"],
            actor=Actor.from_request(request),
        )
        obj.pk, obj.secret = made.key.pk, made.secret

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)
        # a new key's providers are set by create_key

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        """The secret, once: this page is the only place it is ever shown."""
        context = page_context(
            self, request, f"API key {obj.name} created", key=ApiKey.objects.get(pk=obj.pk), secret=obj.secret
        )
        return TemplateResponse(request, "admin/gateway/apikey/created.html", context)  # admin pages: no-store

    @admin.display(description="providers")
    def scope(self, obj: ApiKey) -> str:
        return ", ".join(p.name for p in obj.providers.all()) or "—"

    @admin.display(description="production", boolean=True)
    def production(self, obj: ApiKey) -> bool:
        return obj.allow_production

    @admin.display(description="state")
    def state(self, obj: ApiKey) -> SafeString:
        if obj.revoked_at:
            return badge("failed", "revoked")
        return badge("succeeded", "active") if obj.active else badge("dead", "expired")

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj: ApiKey) -> SafeString:
        if obj.last_used_at is None:
            return format_html("{}", "never")
        return format_html(
            '{} <div class="helios-note">from {}</div>', moment(obj.last_used_at), obj.last_used_from or "?"
        )

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            revoke_key(key, actor=Actor.from_request(request))
            self.message_user(
                request, f"API key {key.name} revoked: its requests are refused from now on.", messages.SUCCESS
            )
