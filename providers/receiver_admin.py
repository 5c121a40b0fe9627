"""The round-trip receiver's part of a provider config's page: push or pull, the push's
authentication, reconciliation's grace, self-healing (automatic healing of a production config
is confirmed by typing its name), and demo mode's simulated cloud."""

import os

from django import forms
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils import timezone

from .kinds import pull_option_fields, spec_for
from .models import HealingPolicy, ProviderMode, ReceiverAuth, ReceiverSettings
from .production import names_config


class ReceiverSettingsForm(forms.ModelForm):
    """The round trip's form: automatic healing of a production config is confirmed by its name."""

    confirm_healing = forms.CharField(
        required=False,
        label="Confirm automatic healing",
        help_text="A PRODUCTION config: type its name to let HELIOS resend missing events to it on its own.",
    )

    class Meta:
        model = ReceiverSettings
        fields = ["healing"]  # the inline's `fields` decide the rest

    def clean(self) -> dict:
        cleaned = super().clean()
        config = self.instance.provider if self.instance.provider_id else None
        automatic = cleaned.get("healing") == HealingPolicy.AUTOMATIC
        unconfirmed = self.instance.healing_confirmed_at is None or "healing" in self.changed_data
        production = config is not None and config.mode == ProviderMode.PRODUCTION
        confirmed = names_config(cleaned.get("confirm_healing", ""), config)
        if automatic and production and unconfirmed and not confirmed:
            self.add_error("confirm_healing", f"{config.name} is in production: type its name to confirm.")
        return cleaned

    def save(self, commit: bool = True) -> ReceiverSettings:
        receiver = super().save(commit=False)
        if receiver.healing != HealingPolicy.AUTOMATIC:
            receiver.healing_confirmed_at = None
        elif names_config(self.cleaned_data.get("confirm_healing", ""), receiver.provider):
            receiver.healing_confirmed_at = timezone.now()
        if commit:
            receiver.save()
        return receiver


class ReceiverSettingsInline(admin.StackedInline):
    """The config's round trip: pulled from a subscription, or pushed by the cloud to HELIOS's
    receiver URL (and how that push authenticates)."""

    model = ReceiverSettings
    form = ReceiverSettingsForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    can_delete = True
    extra = 0
    max_num = 1
    readonly_fields = ["receiver_path", "secret_status"]
    fields = [
        "enabled",
        "method",
        "pull_subscription",
        *pull_option_fields(),
        "pull_batch",
        "pull_wait_seconds",
        "receiver_path",
        "auth",
        "secret_env",
        "secret_status",
        "api_key_header",
        "basic_username",
        "oidc_audience",
        "oidc_issuers",
        "oidc_email",
        "oidc_certs_url",
        "max_body_bytes",
        "grace_seconds",
        "healing",
        "healing_max_per_hour",
        "healing_max_age_hours",
        "confirm_healing",
        "demo_arrival_seconds",
        "demo_loss_rate",
        "demo_duplicate_rate",
    ]

    @admin.display(description="receiver path")
    def receiver_path(self, obj: ReceiverSettings) -> str:
        if not obj.pk:
            return "shown once saved"
        path = reverse(spec_for(obj.provider.kind).receiver.url_name, args=[obj.provider_id])
        suffix = "?token=<the secret>" if obj.auth == ReceiverAuth.TOKEN else ""
        return f"https://<your HELIOS host>{path}{suffix}  (see docs/round-trip.md)"

    @admin.display(description="secret")
    def secret_status(self, obj: ReceiverSettings) -> str:
        if obj.auth == ReceiverAuth.OIDC:
            return "not needed (OIDC tokens are verified against the issuer's certificates)"
        if not obj.secret_env:
            return "—"
        found = bool(os.environ.get(obj.secret_env))
        return f"{obj.secret_env} is {'set' if found else 'NOT set: requests are refused with 503'}"
