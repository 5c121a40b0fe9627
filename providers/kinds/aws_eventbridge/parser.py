"""What EventBridge delivers back: the event itself, from an API destination or an SQS queue behind
a rule (`id`, `detail-type`, `source`, `detail`); HELIOS's event id is `detail.metadata.event_id`."""

from ...inbound.parsing import InboundEvent, InboundRejected, Parsed, identifier, json_body, text


def parse_eventbridge(body: bytes) -> Parsed:
    """An EventBridge event delivered by an API destination (the event as the body)."""
    value = json_body(body)
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or "detail" not in value:
        raise InboundRejected("The body is not an EventBridge event (needs id and detail).")
    detail = value["detail"] if isinstance(value["detail"], dict) else {}
    metadata = detail.get("metadata") if isinstance(detail.get("metadata"), dict) else {}
    return Parsed(
        [
            InboundEvent(
                event_id=identifier(metadata.get("event_id"), "detail.metadata.event_id"),
                message_id=identifier(value["id"], "id"),
                subscription=text(value.get("source")),
                subject=text(metadata.get("subject")),
                raw=value,
            )
        ]
    )
