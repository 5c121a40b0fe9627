"""Identifiers as operators and clouds hand them to HELIOS."""

import uuid
from typing import Any


def parse_uuid(value: Any) -> uuid.UUID | None:
    """The UUID a value spells (any of the usual forms), or None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


#: The shortest id prefix searched as one (lists show 8 characters).
MIN_PREFIX_DIGITS = 4
_HEX = frozenset("0123456789abcdef")


def uuid_prefix_range(value: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The lowest and highest UUID starting with a short id ("3f2a9c1e", "3f2a9c1e-7b"), or None.

    A range of the primary key, so a search by the short id a list shows is index-backed."""
    digits = value.strip().lower().replace("-", "")
    if not MIN_PREFIX_DIGITS <= len(digits) < 32 or not set(digits) <= _HEX:
        return None
    pad = 32 - len(digits)
    return uuid.UUID(digits + "0" * pad), uuid.UUID(digits + "f" * pad)
