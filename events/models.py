"""Events, their deliveries (one per provider config) and every delivery attempt."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from providers.models import ProviderConfig, ProviderMode

from .route_filters import filter_problems


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


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    DEAD = "dead", "Dead"


#: The status groups, in one place. Final: nothing more happens by itself.
FINAL_STATUSES = (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.DEAD)
#: Waiting for a worker (the backlog): sent when their next attempt is due.
DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
#: Not final yet: waiting, or being sent now.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.RETRYING)
#: What an operator may "retry now": one more attempt at once.
RETRYABLE_BY_OPERATOR = (DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.RETRYING)


class Delivery(models.Model):
    """One event to one provider config, with its current state."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    provider = models.ForeignKey(ProviderConfig, on_delete=models.PROTECT, related_name="deliveries")
    mode = models.CharField(max_length=16, choices=ProviderMode.choices, help_text="Effective mode of the last send.")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    provider_message_id = models.CharField(max_length=256, blank=True)
    last_error_code = models.CharField(max_length=128, blank=True)
    last_error = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The last attempt's share of its provider call: the call's time divided by the events sent in it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the event first came back from the cloud (round trip)."
    )
    confirmed_via = models.CharField(max_length=300, blank=True, help_text="The receiver and subscription.")
    route = models.ForeignKey(
        Route, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The route that chose it."
    )

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        permissions = [
            ("retry_delivery", "Can retry a failed or dead delivery now"),
            ("export_delivery", "Can export deliveries as CSV or JSON Lines"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "provider"], name="one_delivery_per_event_and_provider"),
        ]
        indexes = [
            # The claim query: due deliveries of one provider, oldest due first.
            models.Index(fields=["provider", "status", "next_attempt_at"], name="delivery_due_idx"),
            # The sweeper: expired leases.
            models.Index(fields=["status", "lease_expires_at"], name="delivery_lease_idx"),
            models.Index(fields=["-created_at", "-id"], name="delivery_recent_idx"),
            models.Index(fields=["provider_message_id"], name="delivery_message_id_idx"),
            # History at scale: a status filter, newest first, and capped counts per status.
            models.Index(fields=["status", "-created_at"], name="delivery_status_recent_idx"),
            # The error code filter's choices (a loose index scan) and the filter itself.
            models.Index(fields=["last_error_code"], name="delivery_error_code_idx"),
        ]

    def __str__(self) -> str:
        return f"{str(self.event_id)[:8]} → {self.provider.name}"

    @property
    def is_final(self) -> bool:
        """True when no further attempt will be made by itself."""
        return self.status in FINAL_STATUSES


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    RETRYABLE_ERROR = "retryable_error", "Retryable error"
    PERMANENT_ERROR = "permanent_error", "Permanent error"
    UNKNOWN = "unknown", "Unknown (lease expired)"


class DeliveryAttempt(models.Model):
    """One try to send one delivery."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    mode = models.CharField(max_length=16, choices=ProviderMode.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    error_code = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=256, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True, help_text="HTTP or gRPC status.")
    request_body = models.TextField(
        blank=True, help_text="What was sent for this event, as the provider received it (capped, secrets redacted)."
    )
    response_body = models.TextField(
        blank=True, help_text="What the provider answered for this event (capped, secrets redacted)."
    )

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number"),
        ]
        # The operations home: attempts of the last minutes.
        indexes = [models.Index(fields=["finished_at"], name="attempt_finished_idx")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"

    @property
    def duration_ms(self) -> int:
        """How long the attempt took, in milliseconds."""
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


class HourlyStats(models.Model):
    """Per provider config and hour: deliveries created, succeeded and failed (failed or dead)
    in that hour, and a histogram of the successes' provider-call latency.

    Kept up to date by the services that create deliveries and record outcomes (same
    transaction), so the dashboard reads 24 small rows per provider, whatever the history's size.
    """

    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    created = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    #: Counts of successes per latency bucket (events.stats.LATENCY_BOUNDS_MS, then one open bucket).
    latency_buckets = models.JSONField(default=list)
    latency_sum_ms = models.BigIntegerField(default=0, help_text="Sum of the successes' latencies (ms).")
    #: Attempts that finished in the hour, and those of them that did not succeed.
    attempts = models.PositiveIntegerField(default=0)
    attempts_failed = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "hourly stats"
        constraints = [models.UniqueConstraint(fields=["provider", "hour"], name="one_stats_row_per_provider_hour")]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.hour:%Y-%m-%d %H:00}"


class Receipt(models.Model):
    """An event that came back from a cloud to a provider config's receiver (round trip).

    One row per provider config and event (its HELIOS id, or the cloud's message id when it has
    none): a second arrival counts as a duplicate instead of a second row."""

    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=300, help_text="The HELIOS event id, else message:{cloud message id}.")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="receipts")
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="receipts")
    message_id = models.CharField(max_length=300, blank=True)
    subscription = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True, help_text="Subject or ordering key.")
    first_received_at = models.DateTimeField(default=timezone.now)
    last_received_at = models.DateTimeField(default=timezone.now)
    arrivals = models.PositiveIntegerField(default=1, help_text="More than 1: the cloud delivered it again.")
    body = models.TextField(blank=True, help_text="The first arrival's raw event, size-capped, secrets removed.")

    class Meta:
        ordering = ["-first_received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["provider", "key"], name="one_receipt_per_provider_event")]
        indexes = [models.Index(fields=["provider", "first_received_at"], name="receipt_recent_idx")]

    def __str__(self) -> str:
        return f"{self.key} via {self.provider.name}"


class ReconciliationKind(models.TextChoices):
    MISSING = "missing", "Missing (sent, not received)"
    DUPLICATED = "duplicated", "Duplicated (received more than once)"
    UNEXPECTED = "unexpected", "Unexpected (received, never sent here by HELIOS)"
    OUT_OF_ORDER = "out_of_order", "Out of order (per subject)"


class ReconciliationReport(models.Model):
    """What was sent to one provider config in a window, compared with what came back."""

    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    grace_seconds = models.PositiveIntegerField()
    window_note = models.CharField(max_length=300, blank=True, help_text="Why the window is not the one asked for.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent = models.PositiveIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    duplicated = models.PositiveIntegerField(default=0)
    unexpected = models.PositiveIntegerField(default=0)
    out_of_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"reconciliation #{self.pk} of {self.provider}"

    @property
    def clean_result(self) -> bool:
        """True when every sent event came back once, in order, and nothing else came."""
        return not (self.missing or self.duplicated or self.unexpected or self.out_of_order)


class ReconciliationItem(models.Model):
    """One finding of a report."""

    report = models.ForeignKey(ReconciliationReport, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=16, choices=ReconciliationKind.choices)
    key = models.CharField(max_length=300, help_text="The event id (or message:{id}).")
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    receipt = models.ForeignKey(Receipt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["report", "kind", "id"]
        indexes = [models.Index(fields=["report", "kind"], name="reconciliation_item_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class DemoArrival(models.Model):
    """An event the simulated cloud of a demo config will deliver back to its receiver, when due
    (demo mode's round trip: receipts, confirmation and reconciliation without a cloud)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["provider", "due_at"], name="demo_arrival_due_idx")]

    def __str__(self) -> str:
        return f"demo arrival of delivery {self.delivery_id} at {self.due_at:%H:%M:%S}"


# Registered with the app here; defined apart to keep this module small.
from .resend_models import Replay, ReplayState, Resend  # noqa: E402, F401
