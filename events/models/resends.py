"""Deliveries sent again on purpose: a replay of a window of events, and self-healing of events
reconciliation found missing."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from providers.models import ProviderConfig


class ReplayState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class Replay(models.Model):
    """Events chosen by a time window and filters, sent again (same event ids) to provider
    configs, in the background at a bounded rate; resumable from its cursor, cancellable."""

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    since = models.DateTimeField()
    until = models.DateTimeField()
    #: type, source, subject_prefix, provider, status, route: what chose the events (see ReplayFilter).
    filters = models.JSONField(default=dict, blank=True)
    providers = models.ManyToManyField(ProviderConfig, related_name="+")
    rate_per_second = models.PositiveIntegerField(default=50)
    state = models.CharField(max_length=16, choices=ReplayState.choices, default=ReplayState.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0, help_text="Events handled so far.")
    sent = models.PositiveIntegerField(default=0, help_text="Deliveries made due again or new.")
    skipped = models.PositiveIntegerField(default=0, help_text="Deliveries already on their way.")
    cursor_created_at = models.DateTimeField(null=True, blank=True)
    cursor_event_id = models.UUIDField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    #: Touched by every batch: a replay not done whose time stands still lost its task (resumed by the sweeper).
    updated_at = models.DateTimeField(auto_now=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("replay_events", "Can replay a window of events (send them again)")]

    def __str__(self) -> str:
        return f"replay #{self.pk}"

    @property
    def percent(self) -> int:
        """Events handled, in percent of the total."""
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def final(self) -> bool:
        """Done, cancelled or failed: it will not move again."""
        return self.state in (ReplayState.DONE, ReplayState.CANCELLED, ReplayState.FAILED)


class Resend(models.Model):
    """One delivery sent again on purpose, and why: a replay, or healing of a reconciliation item."""

    delivery = models.ForeignKey("events.Delivery", on_delete=models.CASCADE, related_name="resends")
    at = models.DateTimeField(default=timezone.now)
    replay = models.ForeignKey(Replay, null=True, blank=True, on_delete=models.SET_NULL, related_name="resends")
    item = models.ForeignKey(
        "events.ReconciliationItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"resend of delivery {self.delivery_id}"

    @property
    def reason(self) -> str:
        """Why, in words."""
        if self.replay_id:
            return f"replay #{self.replay_id}"
        if self.item_id:
            return f"healing: missing in reconciliation #{self.item.report_id}"
        return "resent"
