"""What Pub/Sub delivers back, pushed (`{"message": {"data": base64, "attributes", "messageId", …},
"subscription": …}`) or pulled: HELIOS's event id is the `ce-id` attribute."""

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ...inbound.parsing import InboundEvent, InboundRejected, Parsed, identifier, json_body, text


def parse_pubsub_push(body: bytes) -> Parsed:
    """A Pub/Sub push request (one message)."""
    value = json_body(body)
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
    message_id = identifier(message_id, "messageId")
    if not message_id:
        raise InboundRejected("The message has no messageId.")
    return InboundEvent(
        event_id=identifier(attributes.get("ce-id", ""), "ce-id attribute"),
        message_id=message_id,
        subscription=text(subscription),
        subject=text(ordering_key) or text(attributes.get("ce-subject", "")),
        raw=raw,
    )
