"""Provider configurations: where HELIOS publishes, and in which mode."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from .endpoints import options_problems
from .kinds import KINDS, OPTION_MODELS, RECEIVER_OPTION_MODELS, ProviderKind, ReceiverAuth, spec_for
from .receiver_models import (
    DemoRoundTrip,
    HealingPolicy,
    HealingSettings,
    PullSettings,
    PushAuthentication,
    ReconciliationSettings,
    RoundTripMethod,
)

__all__ = ["HealingPolicy", "ProviderKind", "ReceiverAuth", "RoundTripMethod"]


class ProviderMode(models.TextChoices):
    DEMO = "demo", "Demo"
    PRODUCTION = "production", "Production"


class ProviderConfig(*OPTION_MODELS, models.Model):
    """One publish target (an EventBridge bus, a Pub/Sub topic, an Event Grid topic).

    Each kind's option fields come from its module in providers/kinds."""

    name = models.SlugField(max_length=64, unique=True, help_text="Short unique name, e.g. aws-orders.")
    kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    mode = models.CharField(
        max_length=16,
        choices=ProviderMode.choices,
        default=ProviderMode.DEMO,
        help_text="Demo never calls the cloud. Production uses the real SDK when allowed.",
    )
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)

    demo_failure_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Demo mode only: share of sends that fail with a retryable error (0 to 1).",
    )
    demo_latency_ms = models.PositiveIntegerField(
        default=40,
        validators=[MaxValueValidator(10_000)],
        help_text="Demo mode only: simulated latency of one provider call.",
    )
    credentials_env_prefix = models.CharField(
        "credentials environment prefix",
        max_length=64,
        blank=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9_]*_$", "Use capitals, digits and _, ending with _, e.g. ORDERS_.")],
        help_text=(
            "Empty: the SDK's default chain. With ORDERS_: ORDERS_AWS_ACCESS_KEY_ID / ORDERS_AWS_SECRET_ACCESS_KEY "
            "(or ORDERS_AWS_PROFILE), ORDERS_GOOGLE_APPLICATION_CREDENTIALS, ORDERS_EVENTGRID_ACCESS_KEY "
            "(or ORDERS_EVENTGRID_SAS_TOKEN), ORDERS_WEBHOOK_SECRET. Secrets stay in the environment, never in "
            "the database."
        ),
    )
    last_check_at = models.DateTimeField("last connection test", null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField("last test passed", null=True, editable=False)
    last_check_message = models.CharField("last test result", max_length=500, blank=True, editable=False)
    max_attempts = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text="Attempts before a delivery with retryable errors is dead.",
    )
    max_age_hours = models.PositiveIntegerField(
        "retry window (hours)",
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 14)],
        help_text="A delivery still failing this long after it was composed is dead (the clouds retry for 24 h).",
    )
    rate_limit_per_second = models.FloatField(
        "rate limit (events/s)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
        help_text="Most events per second sent to this provider, across all workers; empty = no limit.",
    )
    circuit_failure_threshold = models.PositiveSmallIntegerField(
        "circuit: consecutive failures",
        default=5,
        validators=[MinValueValidator(1)],
        help_text="The circuit opens after this many retryable failures in a row (or half of 20+ recent sends).",
    )
    circuit_cooldown_seconds = models.PositiveIntegerField(
        "circuit: pause (seconds)",
        default=30,
        validators=[MinValueValidator(1)],
        help_text="How long an open circuit pauses sends before one probe is let through.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = "provider config"
        permissions = [("switch_mode", "Can switch a provider config between demo and production")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Check the options of this config's kind; blank the other kinds' options."""
        if self.kind not in KINDS:
            return  # the field's own choices validation names the problem
        spec = spec_for(self.kind)
        values = {name: getattr(self, name) for name in spec.option_fields}
        errors = spec.validate(values)
        errors = {**options_problems(spec.endpoints, values), **errors}
        if errors:
            raise ValidationError(errors)
        for other in KINDS.values():
            if other is not spec:
                for name in other.option_fields:
                    setattr(self, name, self._meta.get_field(name).get_default())

    def options(self) -> dict[str, Any]:
        """This kind's options under the keys clients read."""
        return {key: getattr(self, name) for name, key in spec_for(self.kind).option_keys.items()}


class ModeChange(models.Model):
    """Audit of a provider config switching between demo and production."""

    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="mode_changes")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    from_mode = models.CharField(max_length=16, choices=ProviderMode.choices)
    to_mode = models.CharField(max_length=16, choices=ProviderMode.choices)
    reason = models.TextField()
    effective_mode = models.CharField(
        max_length=16, choices=ProviderMode.choices, help_text="Effective mode right after the switch."
    )
    effective_reason = models.CharField(max_length=500)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at"]
        get_latest_by = "changed_at"

    def __str__(self) -> str:
        return f"{self.provider} {self.from_mode} → {self.to_mode}"


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed (sending)"
    OPEN = "open", "Open (paused)"
    HALF_OPEN = "half_open", "Half-open (probing)"


class ProviderRuntime(models.Model):
    """Shared, fast-changing state of one provider config: circuit breaker and rate bucket.

    Kept apart from ProviderConfig so that this churn never looks like a config change.
    """

    provider = models.OneToOneField(ProviderConfig, on_delete=models.CASCADE, related_name="runtime")
    circuit_state = models.CharField(max_length=16, choices=CircuitState.choices, default=CircuitState.CLOSED)
    circuit_changed_at = models.DateTimeField(null=True, blank=True)
    circuit_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    window_sent = models.PositiveIntegerField(default=0)
    window_failed = models.PositiveIntegerField(default=0)
    rate_tokens = models.FloatField(default=0.0)
    rate_updated_at = models.DateTimeField(null=True, blank=True)
    doorbell_pending = models.BooleanField(
        default=False, help_text="A send task is queued and has not started: new deliveries need no other."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=128, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.provider} circuit {self.circuit_state}"


class CircuitTransition(models.Model):
    """A provider config's circuit changing state: the incident record that outlives the retries."""

    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="circuit_transitions")
    at = models.DateTimeField(default=timezone.now)
    from_state = models.CharField(max_length=16, choices=CircuitState.choices)
    to_state = models.CharField(max_length=16, choices=CircuitState.choices)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="circuit_transition_at_idx")]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.from_state} → {self.to_state} at {self.at:%Y-%m-%d %H:%M:%S}"


class ReceiverSettings(
    PullSettings,
    PushAuthentication,
    ReconciliationSettings,
    HealingSettings,
    DemoRoundTrip,
    *RECEIVER_OPTION_MODELS,
    models.Model,
):
    """The round trip of one provider config: how HELIOS receives its events back from the cloud
    (an Event Grid subscription, a Pub/Sub push subscription, an EventBridge API destination).
    Its fields come by concern (providers.receiver_models) and from each kind's pull options.

    The shared secret (token, API key or Basic password) is never stored: `secret_env` names the
    environment variable that holds it, like a config's credentials."""

    provider = models.OneToOneField(ProviderConfig, on_delete=models.CASCADE, related_name="receiver")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(
        "set up",
        null=True,
        blank=True,
        default=timezone.now,
        editable=False,
        help_text="Reconciliation never looks before this: nothing sent earlier could come back (empty: unknown).",
    )

    class Meta:
        verbose_name = "round-trip receiver"

    def __str__(self) -> str:
        return f"receiver of {self.provider}"

    def clean(self) -> None:
        """Pull needs its subscription; push an authentication the cloud's push delivery can use,
        with what it needs."""
        cloud = spec_for(self.provider.kind).receiver if self.provider_id else None
        if self.provider_id and cloud is None:
            raise ValidationError(
                f"{self.provider.get_kind_display()} has no round trip: nothing comes back to receive."
            )
        if self.method == RoundTripMethod.PULL:
            needed = cloud.pull_fields if cloud is not None else ("pull_subscription",)
            missing = {name: "Pull needs this." for name in needed if not getattr(self, name)}
            if missing:
                raise ValidationError(missing)
            if cloud is not None:
                endpoints = cloud.pull_endpoints
                refused = options_problems(endpoints, {e.field: getattr(self, e.field) for e in endpoints})
                if refused:
                    raise ValidationError(refused)
            return
        allowed = cloud.auths if cloud is not None else ()
        if allowed and self.auth not in allowed:
            names = ", ".join(ReceiverAuth(a).label for a in allowed)
            raise ValidationError({"auth": f"{self.provider.get_kind_display()} can use: {names}."})
        demo = self.provider_id is not None and self.provider.mode == ProviderMode.DEMO
        if self.auth != ReceiverAuth.OIDC and not self.secret_env and not demo:
            raise ValidationError({"secret_env": "Name the environment variable that holds the secret."})
        if self.auth == ReceiverAuth.OIDC and not self.oidc_audience:
            raise ValidationError({"oidc_audience": "OIDC needs the audience the subscription sends."})
        if self.auth == ReceiverAuth.BASIC and not self.basic_username:
            raise ValidationError({"basic_username": "Basic auth needs a user name."})


class PullState(models.Model):
    """A pull subscription's poller: its claim (one poller at a time), its backoff after errors,
    and what the operations home shows."""

    provider = models.OneToOneField(ProviderConfig, on_delete=models.CASCADE, related_name="pull_state")
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_received = models.PositiveIntegerField(default=0)
    received_total = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"pull state of {self.provider_id}"
