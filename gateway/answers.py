"""What the API answers: the schemas django-ninja publishes in the OpenAPI document, each built
from HELIOS's own values by itself (`EventOut.answering`), so the answer and its description
are one thing. Plain pydantic models, not django-ninja's `Schema`: a `Schema` validates each
value through a getter made for ORM objects, ≈ 10 % of a batch of 100's time in the API."""

import functools
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse
from pydantic import BaseModel

from events.models import Delivery
from events.selectors import confirmed_words

from .models import ApiKey
from .publishing import Answer


class Errors(BaseModel):
    """Every refusal: what was wrong, in words; nothing was created."""

    errors: list[str]


class Envelope(BaseModel):
    """HELIOS's own event envelope."""

    type: str
    source: str
    subject: str = ""
    data: dict[str, Any]
    providers: list[str] | None = None


#: The delivery columns an answer shows, read in one query for all of a request's events.
DELIVERY_COLUMNS = (
    "id",
    "event_id",
    "provider__name",
    "status",
    "attempts",
    "provider_message_id",
    "last_error_code",
    "last_error",
    "confirmed_at",
    "confirmed_via",
)


class DeliveryOut(BaseModel):
    """One delivery of the event to a provider config of the key's."""

    provider: str
    status: str
    attempts: int
    provider_message_id: str
    last_error: str
    confirmed: str
    url: str

    @classmethod
    def of(cls, row: dict[str, Any], url: str) -> "DeliveryOut":
        """The answer for a delivery row (DELIVERY_COLUMNS) and its console page's URL."""
        return cls(
            provider=row["provider__name"],
            status=row["status"],
            attempts=row["attempts"],
            provider_message_id=row["provider_message_id"],
            last_error=f"{row['last_error_code']}: {row['last_error']}" if row["last_error_code"] else "",
            confirmed=confirmed_words(row["confirmed_at"], row["confirmed_via"]),
            url=url,
        )


class EventOut(BaseModel):
    """One event: found or made, in the accept log or published, and its deliveries."""

    id: str
    cloudevent_id: str
    reused: bool
    #: "accepted": in the accept log, events and deliveries not made yet; "published": made.
    status: str
    type: str
    source: str
    subject: str
    url: str
    deliveries: list[DeliveryOut]

    @classmethod
    def answering(cls, request: HttpRequest, key: ApiKey, answered: Sequence[Answer]) -> list["EventOut"]:
        """The events of a request (each found or made, stored or still waiting in the accept
        log) and the deliveries of the stored ones to the key's own provider configs (never
        another's), with the URLs of their API resource and console pages: at most one query."""
        rows: dict[Any, list[dict[str, Any]]] = {answer.event.pk: [] for answer in answered}
        stored = [answer.event.pk for answer in answered if answer.stored]
        for row in _deliveries(key, stored) if stored else ():
            rows[row["event_id"]].append(row)
        base = request.build_absolute_uri("/")[:-1]
        event_url = _url_maker(base, "api-v1:event", SAMPLE_EVENT_ID)
        delivery_url = _url_maker(base, "admin:events_delivery_change", SAMPLE_DELIVERY_ID)
        return [
            cls(
                id=str(answer.event.id),
                cloudevent_id=answer.event.cloudevent_id,
                reused=answer.reused,
                status="published" if answer.stored else "accepted",
                type=answer.event.type,
                source=answer.event.source,
                subject=answer.event.subject,
                url=event_url(answer.event.id),
                deliveries=[DeliveryOut.of(row, delivery_url(row["id"])) for row in rows[answer.event.pk]],
            )
            for answer in answered
        ]


class AcceptedOut(BaseModel):
    """The answer to a publish: every event of the request, in its order."""

    events: list[EventOut]


def _deliveries(key: ApiKey, event_ids: list[Any]) -> QuerySet:
    in_scope = ApiKey.providers.through.objects.filter(apikey_id=key.pk).values("providerconfig_id")
    return (
        Delivery.objects.filter(event_id__in=event_ids, provider_id__in=in_scope)
        .order_by("provider__name")
        .values(*DELIVERY_COLUMNS)
    )


#: Stand-ins reversed once per answer: a batch's hundreds of URLs are then a string replace each.
SAMPLE_EVENT_ID = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
SAMPLE_DELIVERY_ID = 987654321987


def _url_maker(base: str, name: str, sample: Any) -> Callable[[Any], str]:
    """A function making the absolute URL of `name` for an object's id, as `reverse` would."""
    template = base + _reversed(name, sample, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return lambda object_id: template.replace(str(sample), str(object_id))


@functools.cache
def _reversed(name: str, sample: Any, script_prefix: str, urlconf: Any) -> str:
    """`reverse(name, args=[sample])`, once per process for each prefix and URLconf."""
    return reverse(name, args=[sample], urlconf=urlconf)
