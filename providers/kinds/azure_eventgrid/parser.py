"""What Event Grid delivers back: a webhook POST (a JSON array of events in the Event Grid schema
or CloudEvents 1.0, a structured CloudEvent, or a binary-mode CloudEvent in `ce-*` headers; the
schema's SubscriptionValidationEvent asks for its code back), or a CloudEvent pulled from a
namespace subscription."""

from collections.abc import Mapping
from typing import Any

from ...inbound.parsing import InboundEvent, InboundRejected, Parsed, identifier, json_body, text

VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"


def parse_eventgrid(body: bytes, content_type: str, headers: Mapping[str, str]) -> Parsed:
    """An Event Grid webhook delivery (either schema, batch or single, structured or binary)."""
    if headers.get("ce-id"):  # a binary-mode CloudEvent: attributes in headers, the body is the data
        return Parsed(
            [
                InboundEvent(
                    event_id=identifier(headers["ce-id"], "ce-id header"),
                    subject=text(headers.get("ce-subject", "")),
                    subscription=text(headers.get("ce-source", "")),
                    raw={"headers": {k: v for k, v in headers.items() if k.startswith("ce-")}},
                )
            ]
        )
    value = json_body(body)
    items = value if isinstance(value, list) else [value]
    if not items:
        raise InboundRejected("The body is an empty array: no events.")
    subscription = text(headers.get("aeg-subscription-name", ""))
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
                event_id=identifier(item["id"], f"id of event {number}"),
                subject=text(item.get("subject")),
                subscription=subscription or text(item.get("topic") or item.get("source")),
                raw=item,
            )
        )
    return Parsed(events)


def cloudevent_message(event: Mapping[str, Any], *, subscription: str) -> InboundEvent:
    """One CloudEvent received from an Event Grid namespace subscription (queue mode)."""
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise InboundRejected("The CloudEvent has no id.")
    return InboundEvent(
        event_id=identifier(event["id"], "CloudEvent id"),
        message_id=identifier(event["id"], "CloudEvent id"),
        subscription=subscription,
        subject=text(event.get("subject")),
        raw=dict(event),
    )
