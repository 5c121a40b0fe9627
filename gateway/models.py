"""API keys: who may publish through the API, to which provider configs, and how often."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from providers.models import ProviderConfig


class ApiKey(models.Model):
    """A service's key. The secret is shown once and stored only as its SHA-256 (a key has 32
    random bytes: a slow hash adds nothing); the prefix finds the row, then the hashes are
    compared in constant time."""

    name = models.SlugField(max_length=64, unique=True, help_text="Who uses it, e.g. order-service.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    providers = models.ManyToManyField(
        ProviderConfig, blank=True, related_name="+", help_text="The provider configs this key may publish to."
    )
    allow_production = models.BooleanField(
        "may send to production",
        default=False,
        help_text="Without it, a request naming a provider config in production is refused (403).",
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: does not expire.")
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most events a minute through this key; empty = no limit."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: The rate limit's current minute: when it began and how many events it has taken.
    window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    window_events = models.PositiveIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_from = models.GenericIPAddressField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class IdempotentRequest(models.Model):
    """The first answer to a request with an Idempotency-Key, per API key: the same key and body
    get it again (nothing is sent twice); the same key with another body is a conflict."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    answer = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="one_answer_per_key")]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key}"


class AcceptedRequest(models.Model):
    """The accept log: a publish request read, gated, authorised and routed, kept durably as the
    events it will make (ids assigned) and where each goes. A worker expands it into events and
    deliveries (gateway/expansion.py) and stamps `expanded_at`, in one transaction."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(default=timezone.now)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    #: [{"providers": [config id], "routes": {config id: route id}, "events": [event fields]}]
    groups = models.JSONField()
    expanded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "accepted API request"
        indexes = [
            models.Index(
                fields=["accepted_at"], condition=models.Q(expanded_at__isnull=True), name="accepted_waiting_idx"
            )
        ]

    def __str__(self) -> str:
        return f"accepted request #{self.pk}"


class ApiEvent(models.Model):
    """An event published through the API: by which key, from where, and as which CloudEvent.

    A CloudEvent sent again by the same key (same source and id) is the same event: found here,
    never created twice. Deduplication is per key, so one key's ids never reach into another's
    events (nor reveal that they exist)."""

    event_id = models.UUIDField(primary_key=True)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    #: The accepted request that makes the event (until expanded, the event exists only there).
    request = models.ForeignKey(AcceptedRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=256, blank=True)
    cloudevent_id = models.CharField(max_length=256, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "event published through the API"
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "source", "cloudevent_id"],
                condition=~models.Q(cloudevent_id=""),
                name="one_event_per_key_and_cloudevent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} by key {self.api_key_id}"


class AuthFailures(models.Model):
    """Wrong API keys from one client address, or naming one key prefix: counted per minute;
    past the limit, further wrong keys from there are answered 429 until `blocked_until`."""

    scope = models.CharField(max_length=80, unique=True, help_text='"address:{ip}" or "prefix:{key prefix}".')
    window_started_at = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0, help_text="Wrong keys in the current minute.")
    total = models.PositiveBigIntegerField(default=0, help_text="Wrong keys ever (for /metrics).")
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "API key failures"

    def __str__(self) -> str:
        return self.scope


class CatalogStamp(models.Model):
    """One row: a token the database itself renews (triggers, migration 0008) whenever a provider
    config, a route or a key's scope changes, in the change's own transaction, whoever writes it.
    The front door keeps what it reads of them per process under this token (gateway/catalog.py)."""

    token = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.token


class ExpansionBell(models.Model):
    """One row: whether an expansion task is queued and not started yet. Accepts ring only when
    it is not (one task expands what many requests accepted); a starting task answers it."""

    pending = models.BooleanField(default=False)

    def __str__(self) -> str:
        return "expansion queued" if self.pending else "no expansion queued"
