"""The round trip's settings, one abstract model per concern; `ReceiverSettings` (providers.models)
is one row per config made of them and of each kind's own pull options (the kinds' registry):

- `PullSettings`: whether HELIOS pulls, the subscription and how much a poll takes;
- `PushAuthentication`: how the cloud's push proves itself, and the largest body taken;
- `ReconciliationSettings`: how long an event may take to come back;
- `HealingSettings`: whether what never came back is sent again, and within which limits;
- `DemoRoundTrip`: how demo mode's simulated cloud delivers events back.
"""

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from .kinds import ReceiverAuth

GOOGLE_ISSUERS = "https://accounts.google.com accounts.google.com"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


class RoundTripMethod(models.TextChoices):
    PUSH = "push", "Push: the cloud calls HELIOS's receiver URL"
    PULL = "pull", "Pull: HELIOS polls a subscription (no public URL)"


class HealingPolicy(models.TextChoices):
    OFF = "off", "Off"
    SUGGEST = "suggest", "Suggest: reconciliation offers to resend what is missing"
    AUTOMATIC = "automatic", "Automatic: resend what is missing after reconciliation"


class PullSettings(models.Model):
    """Push or pull, and for pull: the subscription, a poll's size and wait."""

    method = models.CharField("round trip", max_length=8, choices=RoundTripMethod.choices, default=RoundTripMethod.PUSH)
    pull_subscription = models.CharField(
        max_length=500,
        blank=True,
        help_text="Pull: Pub/Sub subscription id (in the config's project); EventBridge: the URL of the SQS queue "
        "a rule on the bus targets; Event Grid: the namespace topic's event subscription (queue mode).",
    )
    pull_batch = models.PositiveIntegerField(
        "pull: most messages a poll takes",
        default=500,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
    )
    pull_wait_seconds = models.PositiveIntegerField(
        "pull: long-poll wait (seconds)",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="How long one receive call waits for a first message (SQS at most 20, Event Grid at least 10).",
    )

    class Meta:
        abstract = True


class PushAuthentication(models.Model):
    """How a push delivery authenticates (the secret itself stays in the environment)."""

    auth = models.CharField(max_length=16, choices=ReceiverAuth.choices, default=ReceiverAuth.TOKEN)
    secret_env = models.CharField(
        "secret environment variable",
        max_length=100,
        blank=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9_]*$", "Upper-case letters, digits and underscores.")],
        help_text="Holds the shared token, API key or Basic password (not needed for OIDC).",
    )
    api_key_header = models.CharField(max_length=100, default="x-api-key", help_text="API key auth: the header.")
    basic_username = models.CharField(max_length=100, blank=True, help_text="Basic auth: the user name.")
    oidc_audience = models.CharField(
        max_length=300, blank=True, help_text="OIDC: the audience set on the push subscription (usually this URL)."
    )
    oidc_issuers = models.CharField(
        max_length=300, default=GOOGLE_ISSUERS, help_text="OIDC: accepted issuers, separated by spaces."
    )
    oidc_email = models.EmailField(
        blank=True, help_text="OIDC: the push subscription's service account; blank accepts any."
    )
    oidc_certs_url = models.URLField(
        default=GOOGLE_CERTS_URL, help_text="OIDC: where the signing certificates are published."
    )
    max_body_bytes = models.PositiveIntegerField(
        default=2 * 1024 * 1024, validators=[MinValueValidator(1024)], help_text="Larger requests get HTTP 413."
    )

    class Meta:
        abstract = True


class ReconciliationSettings(models.Model):
    """How long after a send an event may take to come back before it counts as missing."""

    grace_seconds = models.PositiveIntegerField(
        default=300, help_text="Reconciliation: how long after a send an event may take to come back."
    )

    class Meta:
        abstract = True


class HealingSettings(models.Model):
    """Self-healing: what reconciliation found missing is sent again, within limits."""

    healing = models.CharField(
        "self-healing",
        max_length=10,
        choices=HealingPolicy.choices,
        default=HealingPolicy.OFF,
        help_text="Events sent but never back after the grace period are sent again with the same event id.",
    )
    healing_max_per_hour = models.PositiveIntegerField(
        "healing: most resends an hour", default=100, validators=[MinValueValidator(1)]
    )
    healing_max_age_hours = models.PositiveIntegerField(
        "healing: only events younger than (hours)", default=24, validators=[MinValueValidator(1)]
    )
    #: When an Admin confirmed automatic healing of this production config by typing its name.
    healing_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class DemoRoundTrip(models.Model):
    """Demo mode's simulated cloud: the delay, loss and duplicates of events delivered back."""

    demo_arrival_seconds = models.PositiveIntegerField(
        "demo: arrival delay (seconds)",
        default=2,
        validators=[MaxValueValidator(24 * 3600)],
        help_text="Demo mode only: HELIOS plays the cloud and delivers each sent event back after this delay "
        "(picked up by the next send or the minute's sweep).",
    )
    demo_loss_rate = models.FloatField(
        "demo: loss rate",
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Demo mode only: share of events the simulated cloud never delivers back (0 to 1).",
    )
    demo_duplicate_rate = models.FloatField(
        "demo: duplicate rate",
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Demo mode only: share of events the simulated cloud delivers back twice (0 to 1).",
    )

    class Meta:
        abstract = True
