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
