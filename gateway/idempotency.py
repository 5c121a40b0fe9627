"""Idempotency keys: the first answer to a request with an `Idempotency-Key`, kept for
`HELIOS_API_IDEMPOTENCY_HOURS` (24 by default, as the large payment APIs do), then forgotten."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import ApiKey, IdempotentRequest


def request_digest(body: bytes, content_type: str, headers: dict[str, str]) -> str:
    """What makes two requests the same: the body, its type and (binary CloudEvents) the ce-* headers."""
    attributes = sorted((name, value) for name, value in headers.items() if name.startswith("ce-"))
    described = json.dumps([content_type, attributes]).encode()
    return hashlib.sha256(described + b"\0" + body).hexdigest()


def kept_since(now: datetime | None = None) -> datetime:
    """The oldest answer still kept: older ones are as if never given."""
    return (now or timezone.now()) - timedelta(hours=settings.HELIOS_API_IDEMPOTENCY_HOURS)


def earlier_answer(key: ApiKey, idempotency_key: str) -> IdempotentRequest | None:
    """The kept answer to an earlier request with this key, if any."""
    return IdempotentRequest.objects.filter(api_key=key, key=idempotency_key, created_at__gte=kept_since()).first()


def remember(key: ApiKey, idempotency_key: str, digest: str, answer: dict[str, Any]) -> IdempotentRequest | None:
    """Keep this request's answer, inside the request's transaction; None if a concurrent request
    with the key won (then its answer is returned and this request must roll back)."""
    IdempotentRequest.objects.filter(api_key=key, key=idempotency_key, created_at__lt=kept_since()).delete()
    try:
        with transaction.atomic():
            IdempotentRequest.objects.create(
                api_key=key, key=idempotency_key, body_sha256=digest, status=202, answer=answer
            )
    except IntegrityError:
        return IdempotentRequest.objects.get(api_key=key, key=idempotency_key)
    return None


def forget_expired(*, batch_size: int = 1000) -> int:
    """Remove answers older than the time they are kept, in small batches; how many."""
    removed = 0
    old = IdempotentRequest.objects.filter(created_at__lt=kept_since()).order_by("pk")
    while ids := list(old.values_list("pk", flat=True)[:batch_size]):
        removed += IdempotentRequest.objects.filter(pk__in=ids).delete()[0]
    return removed
