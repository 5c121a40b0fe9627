"""Each cloud's push delivery, parsed into plain `InboundEvent`s.

- Event Grid (webhook): a JSON array of events in the Event Grid schema or CloudEvents 1.0,
  a single structured CloudEvent (`application/cloudevents+json`), or a binary-mode CloudEvent
  (`ce-*` headers). The Event Grid schema's SubscriptionValidationEvent asks for its code back.
- Pub/Sub push: `{"message": {"data": base64, "attributes", "messageId", "publishTime", …},
  "subscription": …}`; HELIOS's event id is the `ce-id` attribute.
- EventBridge API destination: the event itself (`id`, `detail-type`, `source`, `detail`);
  HELIOS's event id is `detail.metadata.event_id`.
An event without a HELIOS id is still parsed (it is "unexpected"); a body that is not the
cloud's format, or that can never be stored (strict JSON: nesting deeper than INBOUND_MAX_DEPTH,
NaN, duplicate keys; an id with NUL, a lone surrogate or over MAX_ID_LENGTH characters), raises
InboundRejected with the reason: the receiver answers 400 so the cloud stops redelivering it.
Other text (subject, subscription) keeps what it can: NUL and lone surrogates become U+FFFD.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core import strictjson

#: The deepest nesting accepted in a pushed body: the cloud's envelope around event data that
#: HELIOS's own input gate kept within strictjson.MAX_DEPTH.
INBOUND_MAX_DEPTH = 64
#: The longest event or message id kept (the clouds' ids are far shorter).
MAX_ID_LENGTH = 256
_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")
VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"


class InboundRejected(Exception):
    """The body is not what the cloud sends; the message says why (HTTP 400)."""


@dataclass(frozen=True)
class InboundEvent:
    """One event as it came back: the HELIOS event id it claims (or ""), the cloud's own message
    id, the subscription it came through, its subject or ordering key, and the raw event."""

    event_id: str
    message_id: str = ""
    subscription: str = ""
    subject: str = ""
    raw: Any = None

    @property
    def key(self) -> str:
        """What identifies this event among arrivals: its HELIOS id, else the cloud's message id."""
        return self.event_id or f"message:{self.message_id}"


#: How much of a poison body is kept with its unexpected arrival.
POISON_BODY_CHARS = 4096


def poison_event(reason: str, body: bytes) -> InboundEvent:
    """A request from an authenticated sender that HELIOS can never store as it is: kept as an
    unexpected arrival with the reason and the start of its body (decoded leniently). The same
    request sent again is the same arrival (its key is the digest of the reason and the body)."""
    digest = hashlib.sha256(reason.encode() + b"\0" + body).hexdigest()[:40]
    text = body[: POISON_BODY_CHARS * 4].decode("utf-8", errors="replace")[:POISON_BODY_CHARS]
    return InboundEvent(event_id="", message_id=f"poison:{digest}", raw={"unparsable": reason, "body": text})


@dataclass(frozen=True)
class Parsed:
    """A parsed request: its events, or the answer a validation handshake expects."""

    events: list[InboundEvent] = field(default_factory=list)
    validation_response: dict[str, str] | None = None


def _json(body: bytes) -> Any:
    try:
        return strictjson.loads(body, root="body", max_depth=INBOUND_MAX_DEPTH, check_strings=False)
    except strictjson.JsonProblem as problem:
        raise InboundRejected(f"The body is not acceptable JSON: {problem}") from None


def _text(value: Any) -> str:
    """A member kept as text: non-strings are "", unstorable characters become U+FFFD."""
    if not isinstance(value, str):
        return ""
    return _UNSAFE.sub("\ufffd", value) if _UNSAFE.search(value) else value  # a search is far cheaper


def _id(value: Any, what: str) -> str:
    """An event or message id as given; InboundRejected when it can never be stored."""
    if not isinstance(value, str):
        return ""
    if why := strictjson.unsafe_text(value):
        raise InboundRejected(f"The {what} {why}.")
    if len(value) > MAX_ID_LENGTH:
        raise InboundRejected(f"The {what} is {len(value):,} characters long; at most {MAX_ID_LENGTH} are accepted.")
    return value


def parse_eventgrid(body: bytes, content_type: str, headers: Mapping[str, str]) -> Parsed:
    """An Event Grid webhook delivery (either schema, batch or single, structured or binary)."""
    if headers.get("ce-id"):  # a binary-mode CloudEvent: attributes in headers, the body is the data
        return Parsed(
            [
                InboundEvent(
                    event_id=_id(headers["ce-id"], "ce-id header"),
                    subject=_text(headers.get("ce-subject", "")),
                    subscription=_text(headers.get("ce-source", "")),
                    raw={"headers": {k: v for k, v in headers.items() if k.startswith("ce-")}},
                )
            ]
        )
    value = _json(body)
    items = value if isinstance(value, list) else [value]
    if not items:
        raise InboundRejected("The body is an empty array: no events.")
    subscription = _text(headers.get("aeg-subscription-name", ""))
    events = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InboundRejected(f"Event {number} is not a JSON object.")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise InboundRejected(f"Event {number} has no id.")
        if item.get("eventType") == VALIDATION_EVENT_TYPE:
            code = item.get("data", {}).get("validationCode") if isinstance(item.get("data"), dict) else None
            if not isinstance(code, str) or not code:
                raise InboundRejected("The subscription validation event has no validationCode.")
            return Parsed(validation_response={"validationResponse": code})
        if "specversion" not in item and "eventType" not in item:
            raise InboundRejected(f"Event {number} is neither an Event Grid event nor a CloudEvent.")
        events.append(
            InboundEvent(
                event_id=_id(item["id"], f"id of event {number}"),
                subject=_text(item.get("subject")),
                subscription=subscription or _text(item.get("topic") or item.get("source")),
                raw=item,
            )
        )
    return Parsed(events)


def parse_pubsub_push(body: bytes) -> Parsed:
    """A Pub/Sub push request (one message)."""
    value = _json(body)
    message = value.get("message") if isinstance(value, dict) else None
    if not isinstance(message, dict):
        raise InboundRejected("The body is not a Pub/Sub push envelope (no message object).")
    data = message.get("data", "")
    if not isinstance(data, str):
        raise InboundRejected("The message data is not a base64 string.")
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InboundRejected("The message data is not valid base64.") from None
    raw = {**value, "message": {**message, "data": decoded.decode("utf-8", errors="replace")}}
    event = pubsub_message(
        message_id=message.get("messageId") or message.get("message_id"),
        attributes=message.get("attributes") or {},
        ordering_key=message.get("orderingKey") or message.get("ordering_key"),
        subscription=value.get("subscription"),
        raw=raw,
    )
    return Parsed([event])


def pubsub_message(*, message_id: Any, attributes: Any, ordering_key: Any, subscription: Any, raw: Any) -> InboundEvent:
    """One Pub/Sub message, pushed or pulled: HELIOS's event id is its `ce-id` attribute."""
    if not isinstance(attributes, Mapping) or not all(isinstance(v, str) for v in attributes.values()):
        raise InboundRejected("The message attributes are not a map of strings.")
    message_id = _id(message_id, "messageId")
    if not message_id:
        raise InboundRejected("The message has no messageId.")
    return InboundEvent(
        event_id=_id(attributes.get("ce-id", ""), "ce-id attribute"),
        message_id=message_id,
        subscription=_text(subscription),
        subject=_text(ordering_key) or _text(attributes.get("ce-subject", "")),
        raw=raw,
    )


def cloudevent_message(event: Mapping[str, Any], *, subscription: str) -> InboundEvent:
    """One CloudEvent received from an Event Grid namespace subscription (queue mode)."""
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise InboundRejected("The CloudEvent has no id.")
    return InboundEvent(
        event_id=_id(event["id"], "CloudEvent id"),
        message_id=_id(event["id"], "CloudEvent id"),
        subscription=subscription,
        subject=_text(event.get("subject")),
        raw=dict(event),
    )


def parse_eventbridge(body: bytes) -> Parsed:
    """An EventBridge event delivered by an API destination (the event as the body)."""
    value = _json(body)
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or "detail" not in value:
        raise InboundRejected("The body is not an EventBridge event (needs id and detail).")
    detail = value["detail"] if isinstance(value["detail"], dict) else {}
    metadata = detail.get("metadata") if isinstance(detail.get("metadata"), dict) else {}
    return Parsed(
        [
            InboundEvent(
                event_id=_id(metadata.get("event_id"), "detail.metadata.event_id"),
                message_id=_id(value["id"], "id"),
                subscription=_text(value.get("source")),
                subject=_text(metadata.get("subject")),
                raw=value,
            )
        ]
    )
