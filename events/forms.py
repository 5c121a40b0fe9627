"""The compose form: what an operator types, parsed and checked before anything is created."""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from providers.models import ProviderConfig
from providers.services import effective_mode

from .models import Event, EventTemplate
from .services import json_type_name

EXAMPLE_DATA = {"order_id": "ord-1001", "amount": 42.5, "currency": "EUR", "customer_id": "cus-7"}


def parse_json_object(raw: str) -> dict[str, Any]:
    """Parse operator-typed JSON; errors say where (line, column) and what is wrong."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    if not isinstance(value, dict):
        raise ValidationError(f"The event data must be a JSON object ({{…}}), not {json_type_name(value)}.")
    return value


class ProviderChoiceField(forms.ModelMultipleChoiceField):
    """Enabled provider configs as checkboxes, labelled with kind and mode."""

    def label_from_instance(self, obj: ProviderConfig) -> str:
        mode = effective_mode(obj).mode
        return f"{obj.name} — {obj.get_kind_display()} ({mode.upper() if mode == 'production' else mode})"


class ComposeEventForm(forms.Form):
    """Event type, source, subject, JSON data and the providers to send to; optionally a template."""

    template = forms.ModelChoiceField(
        queryset=EventTemplate.objects.all(),
        required=False,
        help_text="The data is checked against the template's JSON Schema, if it has one.",
    )
    event_type = forms.CharField(max_length=128, initial="OrderPlaced")
    source = forms.CharField(max_length=256, initial="com.example.shop")
    subject = forms.CharField(max_length=256, required=False, help_text="Optional, e.g. orders/ord-1001.")
    data = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        initial=json.dumps(EXAMPLE_DATA, indent=2),
        help_text="A JSON object.",
    )
    providers = ProviderChoiceField(
        queryset=ProviderConfig.objects.filter(enabled=True).order_by("kind", "name"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one provider."},
        help_text="Enabled provider configs; add or enable one under Providers > Provider configs.",
    )

    confirm_production = forms.CharField(required=False, widget=forms.HiddenInput)

    #: Names of the chosen providers whose effective mode is production (set by clean()).
    production_names = ""

    def clean_data(self) -> dict[str, Any]:
        return parse_json_object(self.cleaned_data["data"])

    def clean(self) -> dict[str, Any]:
        """Sending to any production provider needs a confirmation that names exactly them."""
        cleaned = super().clean()
        chosen = cleaned.get("providers") or []
        self.production_names = ", ".join(sorted(p.name for p in chosen if effective_mode(p).is_production))
        if self.production_names and cleaned.get("confirm_production") != self.production_names:
            raise ValidationError(
                f"This sends to PRODUCTION: {self.production_names}. Tick the confirmation below to send for real.",
                code="production",
            )
        return cleaned

    @classmethod
    def from_event(cls, event: Event) -> "ComposeEventForm":
        """An unbound form filled from an earlier event (duplicate into compose)."""
        return cls(
            initial={
                "event_type": event.type,
                "source": event.source,
                "subject": event.subject,
                "data": json.dumps(event.data, indent=2),
            }
        )

    @classmethod
    def from_template(cls, template: EventTemplate) -> "ComposeEventForm":
        """An unbound form filled from a template."""
        return cls(
            initial={
                "template": template,
                "event_type": template.event_type,
                "source": template.source,
                "subject": template.subject,
                "data": json.dumps(template.data, indent=2),
            }
        )
