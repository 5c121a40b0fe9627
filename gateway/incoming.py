"""What a service sends to `POST /api/v1/events`, read into events to publish.

Four shapes (the HTTP binding of CloudEvents 1.0, plus HELIOS's own envelope):
- `application/json`: `{"type", "source", "subject"?, "data", "providers"?}` or an array of them;
- `application/cloudevents+json`: one structured CloudEvent;
- `application/cloudevents-batch+json`: an array of structured CloudEvents;
- binary mode: the attributes in `ce-*` headers, the body is the data.
A CloudEvent names its provider configs with the extension attribute `heliosproviders`
(comma-separated; header `ce-heliosproviders`). Its `id` becomes the event's id when it is a
UUID, and is kept as `cloudevent_id` either way. The JSON is parsed strictly (core.strictjson);
what the input gate then checks (type, source, subject, data) is left to it.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core import strictjson
from core.identifiers import parse_uuid

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
JSON_TYPES = ("application/json", "text/json")
#: The envelope's data sits one level inside the body (two in an array): not counted in the data's depth.
ENVELOPE_LEVELS = 2
MAX_CLOUDEVENT_ID = 256


class BadRequest(Exception):
    """The body or headers are not a request HELIOS can read; `reasons` say why, each a sentence."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Incoming:
    """One event as a service sent it."""

    event_type: Any
    source: Any
    subject: Any
    data: Any
    #: Provider config names it asks for (None: not named).
    providers: list[str] | None
    event_id: uuid.UUID | None = None
    cloudevent_id: str = ""


def read_request(body: bytes, content_type: str, headers: Mapping[str, str]) -> list[Incoming]:
    """The events a request carries (at least one), or BadRequest."""
    media = content_type.split(";")[0].strip().lower()
    if headers.get("ce-specversion") or headers.get("ce-id"):
        return [_binary(body, media, headers)]
    if media == STRUCTURED:
        value = _json(body)
        return [_cloudevent(value, "the CloudEvent")]
    if media == BATCH:
        value = _json(body)
        if not isinstance(value, list) or not value:
            raise BadRequest(["A CloudEvents batch is a non-empty JSON array of CloudEvents."])
        return [_cloudevent(item, f"event {n}") for n, item in enumerate(value, start=1)]
    if media in JSON_TYPES or not media:
        value = _json(body)
        items = value if isinstance(value, list) else [value]
        if not items:
            raise BadRequest(["The array holds no events."])
        return [
            _envelope(item, f"event {n}" if isinstance(value, list) else "the event") for n, item in enumerate(items, 1)
        ]
    raise BadRequest(
        [f"Unsupported Content-Type {media!r}: send application/json, {STRUCTURED}, {BATCH} or a binary CloudEvent."]
    )


def _json(body: bytes) -> Any:
    try:
        return strictjson.loads(body, root="body", outer_levels=ENVELOPE_LEVELS)
    except strictjson.JsonProblem as problem:
        raise BadRequest([str(problem)]) from None


def _envelope(item: Any, label: str) -> Incoming:
    if not isinstance(item, dict):
        raise BadRequest([f"{label}: an event is a JSON object with type, source and data."])
    unknown = sorted(set(item) - {"type", "source", "subject", "data", "providers"})
    if unknown:
        raise BadRequest([f"{label}: unknown member(s) {', '.join(unknown)} (type, source, subject, data, providers)."])
    providers = item.get("providers")
    if providers is not None and (
        not isinstance(providers, list) or not all(isinstance(name, str) and name for name in providers)
    ):
        raise BadRequest([f"{label}: providers is a list of provider config names."])
    return Incoming(item.get("type"), item.get("source"), item.get("subject", ""), item.get("data"), providers)


def _cloudevent(item: Any, label: str) -> Incoming:
    if not isinstance(item, dict):
        raise BadRequest([f"{label}: a CloudEvent is a JSON object."])
    if item.get("specversion") != "1.0":
        raise BadRequest([f'{label}: specversion must be "1.0".'])
    if "data_base64" in item:
        raise BadRequest([f"{label}: data_base64 is not accepted; HELIOS publishes JSON data."])
    content_type = str(item.get("datacontenttype") or "application/json")
    if not _is_json(content_type):
        raise BadRequest([f"{label}: datacontenttype {content_type!r} is not JSON; HELIOS publishes JSON data."])
    return _attributes(item, item.get("data"), label)


def _binary(body: bytes, media: str, headers: Mapping[str, str]) -> Incoming:
    if headers.get("ce-specversion") != "1.0":
        raise BadRequest(["The ce-specversion header must be 1.0."])
    if not _is_json(media or "application/json"):
        raise BadRequest([f"The body's Content-Type {media!r} is not JSON; HELIOS publishes JSON data."])
    attributes = {name[3:]: value for name, value in headers.items() if name.startswith("ce-")}
    return _attributes(attributes, _json(body) if body else None, "the CloudEvent")


def _attributes(attributes: Mapping[str, Any], data: Any, label: str) -> Incoming:
    """A CloudEvent's required attributes checked; the rest is the input gate's."""
    missing = [name for name in ("id", "source", "type") if not attributes.get(name)]
    if missing:
        raise BadRequest([f"{label}: a CloudEvent needs {', '.join(missing)}."])
    ce_id = attributes["id"]
    if not isinstance(ce_id, str) or len(ce_id) > MAX_CLOUDEVENT_ID or strictjson.unsafe_text(ce_id):
        raise BadRequest([f"{label}: id must be text of at most {MAX_CLOUDEVENT_ID} characters."])
    named = attributes.get("heliosproviders")
    if named is not None and not isinstance(named, str):
        raise BadRequest([f"{label}: heliosproviders is a comma-separated string of provider config names."])
    providers = [name.strip() for name in named.split(",") if name.strip()] if named else None
    return Incoming(
        attributes["type"],
        attributes["source"],
        attributes.get("subject", ""),
        data,
        providers,
        event_id=parse_uuid(ce_id),
        cloudevent_id=ce_id,
    )


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media in JSON_TYPES or media.endswith("+json")
