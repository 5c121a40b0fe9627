"""Where each provider config's credentials come from, without ever exposing them.

Secrets live in the environment (or the SDKs' own default chains), never in the database.
A config may name an environment prefix so several accounts can coexist
(`ORDERS_AWS_ACCESS_KEY_ID`, `ORDERS_GOOGLE_APPLICATION_CREDENTIALS`, …).

Each kind's resolver (`providers/kinds/<kind>/credentials.py`) returns a `Credentials` whose
`source` describes where they came from in words an operator can show on a page; the secret
values sit in `secret` (excluded from repr) and are only handed to an SDK client.
"""

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Credentials:
    """Whether credentials resolve, where from (no secret), and the material for the SDK."""

    ok: bool
    source: str
    problem: str = ""
    secret: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def env_value(prefix: str, name: str) -> str:
    """The environment variable `<prefix><name>`, stripped ("" when unset)."""
    return os.environ.get(f"{prefix}{name}", "").strip()
