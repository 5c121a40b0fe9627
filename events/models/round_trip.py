"""The round trip: receipts of events that came back, reconciliation reports and their findings,
and demo mode's simulated arrivals."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from providers.models import ProviderConfig

from .delivery import Delivery
from .publishing import Event


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
