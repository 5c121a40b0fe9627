"""What is published: event templates, bulk uploads, events, and the routes that choose where
an event goes."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from providers.models import ProviderConfig

from ..route_filters import filter_problems


def validate_json_schema(value: object) -> None:
    """The value must be a valid JSON Schema (any draft jsonschema knows)."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    if value in (None, {}):
        return
    try:
        validator_for(value).check_schema(value)
    except SchemaError as error:
        raise ValidationError(f"Not a valid JSON Schema: {error.message}") from None


class EventTemplate(models.Model):
    """A saved event type: defaults for compose, and an optional JSON Schema for its data."""

    name = models.CharField(max_length=100, unique=True)
    event_type = models.CharField(max_length=128)
    source = models.CharField(max_length=256)
    subject = models.CharField(max_length=256, blank=True)
    data = models.JSONField("default data", default=dict, blank=True)
    json_schema = models.JSONField(
        "JSON Schema",
        null=True,
        blank=True,
        validators=[validate_json_schema],
        help_text="Optional: the event data must satisfy it at compose time.",
    )
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BulkSource(models.TextChoices):
    JSONL = "jsonl", "JSON Lines file"
    CSV = "csv", "CSV file"
    TEMPLATE = "template", "N events from a template"


class BulkUpload(models.Model):
    """One bulk send: a JSON Lines or CSV file, or N events from a template; all or nothing."""

    source = models.CharField(max_length=16, choices=BulkSource.choices)
    filename = models.CharField(max_length=255, blank=True)
    template = models.ForeignKey(EventTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    providers = models.ManyToManyField(ProviderConfig, related_name="+")
    event_count = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("bulk_send", "Can send events in bulk (upload or from a template)")]

    def __str__(self) -> str:
        return f"bulk upload #{self.pk} ({self.event_count} events)"


class Event(models.Model):
    """One event as composed; its UUID is the CloudEvents id sent to every provider."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=128, db_index=True)
    source = models.CharField(max_length=256)
    subject = models.CharField(max_length=256, blank=True)
    data = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_from = models.CharField(
        max_length=200, blank=True, help_text='How and from where: "API key order-service, from 10.0.0.5", "CLI".'
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    idempotency_key = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        unique=True,
        help_text="Publishing again with the same key returns this event and sends nothing twice.",
    )
    bulk_upload = models.ForeignKey(
        BulkUpload, null=True, blank=True, on_delete=models.SET_NULL, related_name="events", editable=False
    )
    cloudevent_id = models.CharField(
        "CloudEvent id",
        max_length=256,
        blank=True,
        editable=False,
        help_text="The id the event had as a CloudEvent, when it came in as one (also the event id when a UUID).",
    )
    #: The W3C trace context of the span that created the event (empty when tracing was off): it
    #: travels with every send as the CloudEvents distributed-tracing extension (core/tracing.py).
    traceparent = models.CharField(max_length=128, blank=True, default="", db_default="", editable=False)
    tracestate = models.CharField(max_length=512, blank=True, default="", db_default="", editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Search by subject, exact and case-insensitive (subject__iexact is UPPER(subject) = UPPER(%s)).
            models.Index(Upper("subject"), name="event_subject_upper_idx"),
            # A CloudEvent sent again (same source and id) is the same event: found, not made twice.
            models.Index(fields=["source", "cloudevent_id"], name="event_cloudevent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Route(models.Model):
    """Sends the events its filter matches to its provider configs, when their sender names none
    (events/routing.py: the filter language)."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=100, help_text="Routes are tried in this order (lowest first).")
    filter = models.JSONField(
        default=dict,
        blank=True,
        help_text='CloudEvents Subscriptions filter, e.g. {"prefix": {"type": "Order"}}; {} matches every event.',
    )
    providers = models.ManyToManyField(ProviderConfig, related_name="routes")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problems = filter_problems(self.filter)
        if problems:
            raise ValidationError({"filter": problems})
