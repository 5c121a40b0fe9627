"""The compose form: what an operator types, parsed and checked before anything is created."""

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from core import strictjson
from providers.models import ProviderConfig
from providers.modes import effective_mode
from providers.production import ProductionGrant

from .models import Event, EventTemplate
from .services.publishing import EventSpec
from .services.validation import PublishRejected, Refusal, data_problems, envelope_problems, parse_data

EXAMPLE_DATA = {"order_id": "ord-1001", "amount": 42.5, "currency": "EUR", "customer_id": "cus-7"}


class StrictJSONField(forms.JSONField):
    """A JSON form field that parses through the input gate's strict JSON (no NaN, NUL, lone
    surrogates, duplicate keys or nesting past the limit), with the problem and its place in words."""

    #: How paths in messages name the whole value ("data.lines[0]").
    root = "value"

    def to_python(self, value: Any) -> Any:
        if self.disabled or not isinstance(value, str) or value in self.empty_values:
            return super().to_python(value)
        try:
            return strictjson.loads(value, root=self.root)
        except strictjson.JsonProblem as problem:
            raise ValidationError(str(problem), code="invalid") from None


class EventTemplateForm(forms.ModelForm):
    """A template's fields, checked by the input gate like an event composed from it."""

    class Meta:
        model = EventTemplate
        fields = ["name", "event_type", "source", "subject", "data", "json_schema", "description"]
        field_classes = {"data": StrictJSONField, "json_schema": StrictJSONField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["data"].root, self.fields["json_schema"].root = "data", "schema"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        fields = ("event_type", "source", "subject")
        for problem in envelope_problems(**{name: cleaned.get(name, "") for name in fields}):
            self.add_error(None, problem)
        if "data" in cleaned:
            for problem in data_problems(cleaned["data"] if cleaned["data"] is not None else {}):
                self.add_error("data", problem)
        return cleaned


class ProviderChoiceField(forms.ModelMultipleChoiceField):
    """Enabled provider configs as checkboxes, labelled with kind and mode."""

    def label_from_instance(self, obj: ProviderConfig) -> str:
        mode = effective_mode(obj).mode
        return f"{obj.name} — {obj.get_kind_display()} ({mode.upper() if mode == 'production' else mode})"


class ProductionConfirmationForm(forms.Form):
    """A form that publishes: the confirmation a send to production needs (shown, naming the
    production configs, once the publish service refused without it) and the service's refusals
    put on the form."""

    confirm_production = forms.CharField(required=False, widget=forms.HiddenInput)

    #: Names of the production configs the send needs confirmed (set by `show_refusal`).
    production_names = ""

    @property
    def grant(self) -> ProductionGrant:
        """The operator's confirmation, as the publish service asks for it."""
        return ProductionGrant.typed(self.cleaned_data.get("confirm_production") or "")

    def show_refusal(self, rejected: PublishRejected, *, field: str | None) -> None:
        """The publish service's refusal in the form's words: production asks for the
        confirmation, an unrouted event for a provider, the rest goes to `field`."""
        if rejected.refusal == Refusal.PRODUCTION:
            self.production_names = rejected.production_names
            self.add_error(None, f"{rejected.errors[0]} Tick the confirmation below.")
        elif rejected.refusal == Refusal.UNROUTED:
            self.add_error("providers", "Choose at least one provider: no route matches this event.")
        else:
            for error in rejected.errors:
                self.add_error(field, error)


def provider_choices(
    *, required: bool = True, help_text: str = "Enabled provider configs; add or enable one under Providers."
) -> ProviderChoiceField:
    """Checkboxes of the enabled provider configs."""
    return ProviderChoiceField(
        queryset=ProviderConfig.objects.filter(enabled=True).order_by("kind", "name"),
        widget=forms.CheckboxSelectMultiple,
        required=required,
        error_messages={"required": "Choose at least one provider."},
        help_text=help_text,
    )


class ComposeEventForm(ProductionConfirmationForm):
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
    providers = provider_choices(
        required=False,
        help_text="Enabled provider configs; none ticked: the routes that match the event decide (Events > Routes).",
    )
    field_order = ["template", "event_type", "source", "subject", "data", "providers", "confirm_production"]

    def spec(self) -> EventSpec:
        """The composed event, to the ticked configs (none: the routes decide)."""
        values = self.cleaned_data
        return EventSpec(
            event_type=values["event_type"],
            source=values["source"],
            subject=values["subject"],
            data=values["data"],
            template=values["template"],
            providers=tuple(values["providers"]),
        )

    def clean_data(self) -> dict[str, Any]:
        try:
            return parse_data(self.cleaned_data["data"])
        except PublishRejected as rejected:
            raise ValidationError(rejected.errors) from None

    @classmethod
    def from_event(cls, event: Event) -> "ComposeEventForm":
        """An unbound form filled from an earlier event (duplicate into compose)."""
        return cls(
            initial={
                "event_type": event.type,
                "source": event.source,
                "subject": event.subject,
                "data": strictjson.pretty(event.data),
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


class BulkUploadForm(ProductionConfirmationForm):
    """A JSON Lines or CSV file, or N events from a template, and the providers to send to."""

    file = forms.FileField(
        required=False,
        help_text="JSON Lines (.jsonl, one object per line) or CSV (.csv, with a header row). UTF-8.",
    )
    template = forms.ModelChoiceField(
        queryset=EventTemplate.objects.all(),
        required=False,
        help_text="Fills what lines leave out and checks data against its JSON Schema; "
        "without a file, sends N copies of its event (a rehearsal).",
    )
    count = forms.IntegerField(
        required=False, min_value=1, label="N events", help_text="With a template and no file: how many events."
    )
    event_type = forms.CharField(max_length=128, required=False, help_text="For lines that give none.")
    source = forms.CharField(max_length=256, required=False, help_text="For lines that give none.")
    providers = provider_choices()
    field_order = ["file", "template", "count", "event_type", "source", "providers", "confirm_production"]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.HELIOS_BULK_MAX_BYTES
        if upload is not None and upload.size > limit:
            raise ValidationError(f"The file is {upload.size:,} bytes; at most {limit:,} bytes are accepted.")
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        has_file, count, template = cleaned.get("file") is not None, cleaned.get("count"), cleaned.get("template")
        if has_file and count:
            self.add_error("count", "Give either a file or a number of events, not both.")
        elif not has_file and not count:
            self.add_error("file", "Choose a file, or a template and a number of events.")
        elif count and template is None:
            self.add_error("template", "N events need a template to copy.")
        elif count and count > settings.HELIOS_BULK_MAX_EVENTS:
            self.add_error("count", f"At most {settings.HELIOS_BULK_MAX_EVENTS:,} events at once.")
        return super().clean()

    @property
    def file_format(self) -> str:
        """ "csv" for a .csv file, else "jsonl"."""
        upload = self.cleaned_data.get("file")
        return "csv" if upload is not None and upload.name.lower().endswith(".csv") else "jsonl"
