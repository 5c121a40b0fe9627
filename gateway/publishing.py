"""Publishing through the API: the key's scope and production grant, the input gate, then every
event of the request created in one transaction (a batch is all or nothing)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from core.badges import plural
from events.models import Event
from events.services.publishing import EventSpec, create_events, validated_events
from events.services.validation import PublishRejected
from providers.models import ProviderConfig
from providers.services import production_names

from .incoming import Incoming
from .keys import record_production_use
from .models import ApiKey


class Refused(Exception):
    """The request is refused with an HTTP status; nothing was created. `reasons` say why."""

    def __init__(self, status: int, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.status = status
        self.reasons = reasons


@dataclass(frozen=True)
class Accepted:
    """One event of an accepted request: created now, or found (a CloudEvent sent again)."""

    event: Event
    reused: bool


def accept(key: ApiKey, incoming: Sequence[Incoming], *, remote_addr: str | None) -> list[Accepted]:
    """Publish what a request carries, or raise Refused (400, 403, 409, 422) creating nothing."""
    configs = _providers_of(key, incoming)
    answers: list[Accepted | None] = [None] * len(incoming)
    fresh: dict[tuple[int, ...], list[tuple[int, EventSpec]]] = defaultdict(list)
    for index, item in enumerate(incoming):
        if found := _sent_before(item):
            answers[index] = Accepted(found, reused=True)
            continue
        spec = EventSpec(
            event_type=item.event_type,
            source=item.source,
            subject=item.subject if item.subject is not None else "",
            data=item.data,
            event_id=item.event_id,
            cloudevent_id=item.cloudevent_id,
        )
        fresh[tuple(c.pk for c in configs[index])].append((index, spec))
    by_pk = {c.pk: c for chosen in configs for c in chosen}
    errors: list[str] = []
    planned = []
    for pks, numbered in fresh.items():
        providers = [by_pk[pk] for pk in pks]
        labels = [f"event {index + 1}" if len(incoming) > 1 else "the event" for index, _ in numbered]
        try:
            events = validated_events([spec for _, spec in numbered], providers, actor=None, labels=labels)
        except PublishRejected as rejected:
            errors += rejected.errors
            continue
        planned.append((providers, numbered, events))
    if errors:
        raise Refused(400, errors)
    with transaction.atomic():
        for providers, numbered, events in planned:
            create_events(events, providers, ring=True, actor=None)
            for (index, _), event in zip(numbered, events, strict=True):
                answers[index] = Accepted(event, reused=False)
            if names := production_names(providers):
                record_production_use(key, names, len(events), remote_addr=remote_addr)
    return [answer for answer in answers if answer is not None]


def _providers_of(key: ApiKey, incoming: Sequence[Incoming]) -> list[list[ProviderConfig]]:
    """Each event's provider configs: named, known, enabled, within the key's scope, and in
    production only with the key's grant."""
    named = {name for item in incoming for name in item.providers or []}
    known = {c.name: c for c in ProviderConfig.objects.filter(name__in=named)}
    allowed = set(key.providers.values_list("pk", flat=True))
    unknown = sorted(named - set(known))
    if unknown:
        raise Refused(400, [f"Unknown provider config(s): {', '.join(unknown)}."])
    outside = sorted(name for name, config in known.items() if config.pk not in allowed)
    if outside:
        raise Refused(403, [f"The API key {key.name} may not publish to: {', '.join(outside)}."])
    if not key.allow_production and (names := production_names(list(known.values()))):
        raise Refused(403, [f"{names}: in production, and the API key {key.name} may not send to production."])
    unrouted = [n for n, item in enumerate(incoming, start=1) if not item.providers]
    if unrouted:
        which = "the event" if len(incoming) == 1 else plural(len(unrouted), "event")
        raise Refused(
            422,
            [
                f"No provider config named for {which}: name them (`providers`, or the CloudEvents extension "
                "`heliosproviders`)."
            ],
        )
    return [[known[name] for name in dict.fromkeys(item.providers or [])] for item in incoming]


def _sent_before(item: Incoming) -> Event | None:
    """The event a CloudEvent sent again (same source and id) already is, if any."""
    if not item.cloudevent_id or not isinstance(item.source, str):
        return None
    if item.event_id is not None:
        found = Event.objects.filter(pk=item.event_id).first()
        if found is not None and (found.source != item.source or found.cloudevent_id != item.cloudevent_id):
            raise Refused(409, [f"The event id {item.event_id} is already used by another event."])
        return found
    return Event.objects.filter(source=item.source, cloudevent_id=item.cloudevent_id).first()
