"""The audit trail (who did what to HELIOS, when, and from where) and process heartbeats.

The tables keep their first names (helios_site_…): the models moved here from helios_site with
state-only migrations, so their rows stay where they are.
"""

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    PUBLISH = "publish", "Publish"
    RETRY = "retry", "Retry now"
    RESEND = "resend", "Resend to other providers"
    MODE_SWITCH = "mode_switch", "Mode switch"
    CONFIG_CREATE = "config_create", "Provider config created"
    CONFIG_CHANGE = "config_change", "Provider config changed"
    CONFIG_DELETE = "config_delete", "Provider config deleted"
    CONNECTION_TEST = "connection_test", "Connection test"
    EXPORT = "export", "Export"
    BULK_UPLOAD = "bulk_upload", "Bulk upload"
    TASK_RESUBMIT = "task_resubmit", "Task resubmitted"
    API_KEY_CREATE = "api_key_create", "API key created"
    API_KEY_REVOKE = "api_key_revoke", "API key revoked"
    API_PRODUCTION = "api_production", "API send to production"
    REPLAY = "replay", "Replay"
    REPLAY_CANCEL = "replay_cancel", "Replay cancelled"
    HEALING_POLICY = "healing_policy", "Healing policy changed"
    HEALING = "healing", "Healing resend"
    ROLE_ASSIGN = "role_assign", "Role assigned"


class AuditEntry(models.Model):
    """One operator action. Written by the services that perform it; never edited."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=32, choices=AuditAction.choices, db_index=True)
    target = models.CharField(max_length=200, blank=True, help_text="What was acted on, e.g. provider or event.")
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    remote_addr = models.CharField("from", max_length=64, blank=True, help_text="IP address, or 'cli'.")

    class Meta:
        db_table = "helios_site_auditentry"
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["action", "-at"], name="audit_action_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.target}"


class Heartbeat(models.Model):
    """The last sign of life of a process kind: "worker" is written by the sweeper, which the
    cluster's scheduler runs every minute on a worker, so a fresh beat means both are alive."""

    name = models.CharField(max_length=50, unique=True)
    at = models.DateTimeField()
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "helios_site_heartbeat"

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class WorkerStall(models.Model):
    """A worker cluster that could no longer take tasks and ended itself (written by its
    supervisor, `manage.py worker`, just before it kills the cluster's process group)."""

    at = models.DateTimeField(db_index=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True, help_text="The supervisor's process id.")
    waiting_tasks = models.PositiveIntegerField(help_text="Tasks waiting in the broker when it was noticed.")
    stalled_seconds = models.FloatField(help_text="How long work waited with no task started or finished.")
    busy_workers = models.PositiveIntegerField()
    idle_workers = models.PositiveIntegerField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"worker stall at {self.at:%Y-%m-%d %H:%M:%S} on {self.host}"

    @property
    def summary(self) -> str:
        """The stall in one sentence."""
        return (
            f"{self.waiting_tasks} task(s) waited {self.stalled_seconds:.0f} s and none of its workers "
            f"({self.idle_workers} idle, {self.busy_workers} busy) took one"
        )
