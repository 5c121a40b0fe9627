"""API keys: made with a secret shown once, found by prefix, compared in constant time, revoked,
every creation, revocation and production use audited."""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.badges import plural
from core.models import AuditAction
from providers.models import ProviderConfig

from .models import ApiKey

#: `hk_<prefix>_<secret>`: the prefix (8 hex digits) finds the key, the secret proves it.
KEY_PREFIX = "hk_"


class KeyRefused(Exception):
    """The request's key is missing, unknown, revoked or expired (HTTP 401); the message says which."""


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
    key = ApiKey.objects.filter(prefix=prefix).first() if prefix else None
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        raise KeyRefused("Unknown API key.")
    if key.revoked_at is not None:
        raise KeyRefused(f"The API key {key.name} was revoked.")
    if not key.active:
        raise KeyRefused(f"The API key {key.name} expired.")
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now(), last_used_from=remote_addr)
    return key


def record_production_use(key: ApiKey, names: str, events: int, *, remote_addr: str | None) -> None:
    """Audit a send to production through a key."""
    audit.record(
        actor=Actor(remote_addr=remote_addr),
        action=AuditAction.API_PRODUCTION,
        target=f"API key {key.name}",
        summary=f"{plural(events, 'event')} sent to production: {names}",
        details={"providers": names.split(", "), "events": events},
    )
