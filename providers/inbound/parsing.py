"""What every cloud's push or pull delivery is parsed into: plain `InboundEvent`s, and the rules
each kind's parser (`providers/kinds/<kind>/parser.py`) applies to what it reads.

An event without a HELIOS id is still parsed (it is "unexpected"); a body that is not the
cloud's format, or that can never be stored (strict JSON: nesting deeper than INBOUND_MAX_DEPTH,
NaN, duplicate keys; an id with NUL, a lone surrogate or over MAX_ID_LENGTH characters), raises
InboundRejected with the reason: the receiver answers 400 so the cloud stops redelivering it.
Other text (subject, subscription) keeps what it can: NUL and lone surrogates become U+FFFD.
"""

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from core import strictjson

#: The deepest nesting accepted in a pushed body: the cloud's envelope around event data that
#: HELIOS's own input gate kept within strictjson.MAX_DEPTH.
INBOUND_MAX_DEPTH = 64
#: The longest event or message id kept (the clouds' ids are far shorter).
MAX_ID_LENGTH = 256
_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")


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


def json_body(body: bytes) -> Any:
    """The body as strict JSON; InboundRejected (in words) when it is not acceptable."""
    try:
        return strictjson.loads(body, root="body", max_depth=INBOUND_MAX_DEPTH, check_strings=False)
    except strictjson.JsonProblem as problem:
        raise InboundRejected(f"The body is not acceptable JSON: {problem}") from None


def text(value: Any) -> str:
    """A member kept as text: non-strings are "", unstorable characters become U+FFFD."""
    if not isinstance(value, str):
        return ""
    return _UNSAFE.sub("\ufffd", value) if _UNSAFE.search(value) else value  # a search is far cheaper


def identifier(value: Any, what: str) -> str:
    """An event or message id as given; InboundRejected when it can never be stored."""
    if not isinstance(value, str):
        return ""
    if why := strictjson.unsafe_text(value):
        raise InboundRejected(f"The {what} {why}.")
    if len(value) > MAX_ID_LENGTH:
        raise InboundRejected(f"The {what} is {len(value):,} characters long; at most {MAX_ID_LENGTH} are accepted.")
    return value
