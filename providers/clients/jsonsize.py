"""Byte counting the way providers count: UTF-8 bytes of the serialized JSON."""

import json
from typing import Any


def compact_json(value: Any) -> str:
    """JSON without optional whitespace, as HELIOS sends Detail and message data."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def utf8_len(text: str) -> int:
    """Length of text in UTF-8 bytes."""
    return len(text.encode("utf-8"))
