"""The input gate: every way in (compose, live check, `manage.py publish`, bulk JSON Lines and
CSV, resend, duplicate) checks event data and envelope fields here before anything is created.

- Data: strict JSON (core.strictjson): no NaN/infinity, no NUL or lone surrogates, no duplicate
  keys, at most MAX_DEPTH levels of nesting, integers of at most 4,300 digits (delivered exactly);
  and a JSON object.
- Envelope: type and source required; type ≤ 128, source ≤ 256, subject ≤ 256 characters,
  idempotency key ≤ 200; no control characters (they end up in HTTP headers and attributes).
Every problem is a sentence that says what is wrong and where (line and column, or JSON path).
"""

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from jsonschema.validators import validator_for

from core import strictjson

#: How deep event data may nest (objects and arrays inside each other).
MAX_DEPTH = strictjson.MAX_DEPTH
#: The longest envelope fields: the Event columns, within every provider's own limits
#: (EventBridge: DetailType ≤ 128, Source ≤ 256).
FIELD_LIMITS = {"event type": 128, "source": 256, "subject": 256, "idempotency key": 200}
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class Refusal(StrEnum):
    """Why a publish was refused: each way in answers it its own way (a field, an HTTP status)."""

    #: The input gate or a provider's limits: the events themselves.
    INVALID = "invalid"
    #: An event names no provider config and no route matches it.
    UNROUTED = "unrouted"
    #: A config outside what the publisher may use.
    OUT_OF_SCOPE = "out_of_scope"
    #: A production config, without the grant that allows it.
    PRODUCTION = "production"


class PublishRejected(Exception):
    """The event cannot be published as given; nothing was created. `refusal` says which rule
    refused it; `production_names` names the production configs when that rule is PRODUCTION."""

    def __init__(
        self, errors: Sequence[str], *, refusal: Refusal = Refusal.INVALID, production_names: str = ""
    ) -> None:
        super().__init__(" ".join(errors))
        self.errors = list(errors)
        self.refusal = refusal
        self.production_names = production_names


def json_type_name(value: Any) -> str:
    """How an operator would name a JSON value's type: "an array", "a string", …"""
    names = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def parse_data(text: str | bytes, *, root: str = "data") -> dict[str, Any]:
    """Event data typed or uploaded as JSON text: a JSON object, strictly parsed.

    Raises PublishRejected with one sentence saying what is wrong and where."""
    try:
        value = strictjson.loads(text, root=root)
    except strictjson.JsonProblem as problem:
        raise PublishRejected([str(problem)]) from None
    if not isinstance(value, dict):
        raise PublishRejected([f"The event data must be a JSON object ({{…}}), not {json_type_name(value)}."])
    return value


def data_problems(value: Any, *, root: str = "data") -> list[str]:
    """What makes a value unacceptable as event data (a JSON object within the limits)."""
    if not isinstance(value, dict):
        return [f"The event data must be a JSON object ({{…}}), not {json_type_name(value)}."]
    return strictjson.problems(value, root=root)


def envelope_problems(*, event_type: Any, source: Any, subject: Any = "", idempotency_key: Any = None) -> list[str]:
    """What is wrong with an event's type, source, subject and idempotency key."""
    fields = {"event type": event_type, "source": source, "subject": subject}
    if idempotency_key is not None:
        fields["idempotency key"] = idempotency_key
    problems = []
    for name, value in fields.items():
        if not isinstance(value, str):
            problems.append(f"The {name} must be text, not {json_type_name(value)}.")
        elif not value and name in ("event type", "source"):
            problems.append(f"The {name} is required.")
        elif not value and name == "idempotency key":
            problems.append("The idempotency key is empty; leave it out or give one.")
        elif len(value) > FIELD_LIMITS[name]:
            problems.append(f"The {name} is {len(value):,} characters long; at most {FIELD_LIMITS[name]} are accepted.")
        elif why := strictjson.unsafe_text(value):
            problems.append(f"The {name} {why}.")
        elif found := _CONTROL_CHARACTER.search(value):
            problems.append(f"The {name} contains a control character (\\u{ord(found.group()):04x}); use plain text.")
    return problems


def schema_problems(schema: dict[str, Any], data: Any) -> list[str]:
    """Where and how data breaks a JSON Schema, e.g. "data.lines[0].quantity: 0 is less than the minimum of 1"."""
    validator = validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = "data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        problems.append(f"{path}: {error.message}")
    return problems
