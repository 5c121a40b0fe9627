"""Deliveries (one per event and provider config), every attempt, and the hourly rollup."""

from django.db import models

from providers.models import ProviderConfig, ProviderMode

from .publishing import Event, Route


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
    #: The W3C trace context of the span that made this attempt's provider call ("" untraced).
    traceparent = models.CharField(max_length=128, blank=True, default="", db_default="", editable=False)

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
