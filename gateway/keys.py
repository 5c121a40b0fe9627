"""API keys: made with a secret shown once, found by prefix, compared in constant time, revoked,
every creation, revocation and production use audited."""

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.badges import plural
from core.models import AuditAction
from providers.models import ProviderConfig

from .catalog import stamp_subquery
from .models import ApiKey
from .throttle import count_failure, scopes_of

#: How stale "last used" may get: one write a minute per key, not one per request.
LAST_USED_EVERY = timedelta(minutes=1)
#: `hk_<prefix>_<secret>`: the prefix (8 hex digits) finds the key, the secret proves it.
KEY_PREFIX = "hk_"
PREFIX = re.compile(r"^[0-9a-f]{8}$")


class KeyRefused(Exception):
    """The request's key is missing, unknown, revoked or expired (HTTP 401); the message says which."""


class KeysThrottled(KeyRefused):
    """Too many wrong keys from the client's address or for the prefix (HTTP 429, gateway.throttle)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and the secret to hand over once (it is not stored)."""

    key: ApiKey
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    *,
    name: str,
    providers: Sequence[ProviderConfig],
    allow_production: bool = False,
    expires_at: datetime | None = None,
    rate_limit_per_minute: int | None = None,
    actor: Actor | None = None,
) -> NewKey:
    """Make a key for these provider configs; audited. The secret is returned once."""
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            prefix=prefix,
            secret_hash=_hash(secret),
            allow_production=allow_production,
            expires_at=expires_at,
            rate_limit_per_minute=rate_limit_per_minute,
            created_by=actor.account if actor else None,
        )
        key.providers.set(providers)
        audit.record(
            actor=actor,
            action=AuditAction.API_KEY_CREATE,
            target=f"API key {name}",
            summary=f"API key {name} created for {', '.join(p.name for p in providers) or 'no provider'}"
            + (" (production allowed)" if allow_production else ""),
            details={"providers": [p.name for p in providers], "allow_production": allow_production},
        )
    return NewKey(key, secret)


def revoke_key(key: ApiKey, *, actor: Actor | None = None) -> None:
    """Revoke a key at once (its requests get 401 from now on); audited."""
    with transaction.atomic():
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit.record(actor=actor, action=AuditAction.API_KEY_REVOKE, target=f"API key {key.name}", summary="revoked")
    key.refresh_from_db()


def authenticate(authorization: str, *, remote_addr: str | None) -> ApiKey:
    """The active key an `Authorization: Bearer …` header carries; KeyRefused in words otherwise."""
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise KeyRefused("Send the API key as `Authorization: Bearer <key>`.")
    secret = secret.strip()
    prefix = secret[len(KEY_PREFIX) :].partition("_")[0] if secret.startswith(KEY_PREFIX) else ""
    key = _key_with_prefix(prefix) if prefix else None
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        wait = count_failure(scopes_of(remote_addr=remote_addr, prefix=prefix if PREFIX.match(prefix) else ""))
        if wait:
            raise KeysThrottled(
                f"Too many wrong API keys from this address or for this key; try again in {wait} s.", wait
            )
        raise KeyRefused("Unknown API key.")
    if key.revoked_at is not None:
        raise KeyRefused(f"The API key {key.name} was revoked.")
    if not key.active:
        raise KeyRefused(f"The API key {key.name} expired.")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY or key.last_used_from != remote_addr:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_from=remote_addr)
    return key


#: Stands for the prefix in the key lookup's SQL (compiled once; never a real prefix: it has a NUL).
_PREFIX_PARAMETER = "\x00prefix"


@functools.cache
def _key_lookup() -> tuple[str, tuple]:
    """The SQL and parameters of the key lookup (the key by prefix, with the catalog stamp),
    compiled by the ORM once per process: compiling it for every request cost about as much
    as the database answering it."""
    keys = ApiKey.objects.filter(prefix=_PREFIX_PARAMETER).annotate(catalog_stamp=stamp_subquery())
    return keys[:1].query.sql_with_params()


def _key_with_prefix(prefix: str) -> ApiKey | None:
    """The key with this prefix and its `catalog_stamp`, or None."""
    sql, parameters = _key_lookup()
    found = ApiKey.objects.raw(sql, [prefix if value == _PREFIX_PARAMETER else value for value in parameters])
    return next(iter(found), None)


#: The rate limit's window.
RATE_WINDOW = timedelta(minutes=1)


class RateLimited(Exception):
    """The key's events for this minute are spent (HTTP 429); `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def spend(key: ApiKey, events: int) -> None:
    """Count `events` against the key's rate limit, or raise RateLimited (nothing counted). Call
    it inside the request's transaction: the key's row is locked until it ends."""
    if key.rate_limit_per_minute is None:
        return
    now = timezone.now()
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    if locked.window_started_at is None or now - locked.window_started_at >= RATE_WINDOW:
        locked.window_started_at, locked.window_events = now, 0
    if locked.window_events + events > key.rate_limit_per_minute:
        wait = max(int((locked.window_started_at + RATE_WINDOW - now).total_seconds()) + 1, 1)
        raise RateLimited(
            f"The API key {key.name} may send {key.rate_limit_per_minute:,} events a minute; "
            f"{locked.window_events:,} were sent this minute. Send again in {wait} s.",
            wait,
        )
    locked.window_events += events
    locked.save(update_fields=["window_started_at", "window_events"])


def record_production_use(key: ApiKey, names: str, events: int, *, remote_addr: str | None) -> None:
    """Audit a send to production through a key."""
    audit.record(
        actor=Actor(remote_addr=remote_addr),
        action=AuditAction.API_PRODUCTION,
        target=f"API key {key.name}",
        summary=f"{plural(events, 'event')} sent to production: {names}",
        details={"providers": names.split(", "), "events": events},
    )
