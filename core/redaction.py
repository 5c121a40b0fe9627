"""The one place that decides what is secret and removes it: log lines (app, access, error,
django.request), stored raw bodies, error messages.

A secret is (1) the value of one of this process's secret environment variables (credentials,
keys, tokens, passwords), wherever it appears, or (2) the value of a `name=value`,
`name: value` or `"name": "value"` pair, query parameter or header whose name says secret
(token, password, key, signature, authorization, …), whatever the value.
"""

import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

REDACTED = "[redacted]"
#: Words that make a name (environment variable, field, query parameter, header) secret.
SECRET_WORDS = (
    r"secret|password|passwd|passphrase|token|api[_-]?key|access[_-]?key|private[_-]?key|sas|"
    r"authorization|signature|credential|cookie|session[_-]?id"
)
SECRET_NAME = re.compile(rf"({SECRET_WORDS})", re.I)
#: Query parameters that carry secrets although their name is short (SAS `sig`, Google's `key`).
SECRET_SHORT_PARAMS = ("sig", "key", "code")
#: `name=value` / `name: value` / `"name": "value"` whose name says secret.
SECRET_PAIR = re.compile(
    rf"""(?i)(["']?\b[\w-]*(?:{SECRET_WORDS})[\w-]*\b["']?\s*[:=]\s*)(["']?)((?:Bearer |Basic )?[^\s"',;&}}]+)"""
)
#: `?sig=…` / `&key=…` in a URL or query string.
SECRET_QUERY = re.compile(rf"""(?i)([?&](?:{"|".join(SECRET_SHORT_PARAMS)})=)([^\s&#"']+)""")
#: Environment variable names whose values are secrets.
SECRET_ENV = re.compile(r"(SECRET|PASSWORD|TOKEN|ACCESS_KEY|SAS|API_KEY|PRIVATE|CREDENTIAL)", re.I)
MIN_SECRET_LENGTH = 8


def environment_secrets() -> list[str]:
    """The values of this process's secret environment variables, longest first."""
    found = {v for k, v in os.environ.items() if SECRET_ENV.search(k) and len(v) >= MIN_SECRET_LENGTH}
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """Text without the given secret values (default: the environment's), secret-named pairs'
    values, and secret query parameters."""
    for secret in environment_secrets() if secrets is None else secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = SECRET_PAIR.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    return SECRET_QUERY.sub(lambda m: f"{m[1]}{REDACTED}", text)


def redact_value(value: Any, secrets: Sequence[str] = ()) -> Any:
    """A JSON-like value with secret-named members replaced and the given secrets removed from
    strings (iterative: any nesting depth)."""
    root: list[Any] = [value]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while stack:
        parent, slot, item = stack.pop()
        if isinstance(item, dict):
            copy: dict[Any, Any] = {}
            for key, member in item.items():
                if SECRET_NAME.search(str(key)):
                    copy[key] = REDACTED
                else:
                    copy[key] = member
                    stack.append((copy, key, member))
            parent[slot] = copy
        elif isinstance(item, list):
            copy_list = list(item)
            parent[slot] = copy_list
            stack.extend((copy_list, index, member) for index, member in enumerate(item))
        elif isinstance(item, str) and secrets:
            parent[slot] = redact(item, secrets)
    return root[0]


#: Characters of a raw body (a receipt's event, an attempt's request or answer) that are stored.
MAX_STORED_TEXT = 16 * 1024
#: What no database text column takes: NUL, and lone surrogates (PostgreSQL refuses both).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


#: Lower-case stems of SECRET_WORDS: text without any of them holds no secret-named pair (a fast
#: substring test; a false alarm, e.g. "monkey", only takes the full redaction).
SECRET_STEMS = (
    "secret",
    "passw",
    "passphrase",
    "token",
    "key",
    "sas",
    "authoriz",
    "signature",
    "credential",
    "cookie",
    "session",
    "sig=",
    "code=",
)
#: A secret-named pair inside a JSON string (EventBridge's Detail): `\"password\":\"value\"`.
ESCAPED_SECRET_PAIR = re.compile(
    rf"""(?i)(\\"[\w-]*(?:{SECRET_WORDS})[\w-]*\\"\s*:\s*)(\\")((?:[^"\\]|\\[^"])*)(?=\\")"""
)


def stored_text(value: Any, secrets: Sequence[str] = (), *, limit: int = MAX_STORED_TEXT) -> str:
    """A raw body as text safe to store and show: a JSON value with secret-named members
    redacted (also inside JSON text it carries as a string), a string with secret-looking pairs
    and query parameters redacted; the given secrets removed either way; NUL and lone
    surrogates escaped; capped at `limit` characters. Text with no secret-looking name and no
    given secret is kept as it is (the common case, on every send: cheap)."""
    secrets = [secret for secret in secrets if secret]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    lowered = text.lower()
    if any(stem in lowered for stem in SECRET_STEMS):
        if isinstance(value, str):
            text = redact(value, secrets)
        else:
            text = json.dumps(redact_value(value, secrets), ensure_ascii=False, default=str)
            text = ESCAPED_SECRET_PAIR.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if _UNSTORABLE.search(text):
        text = _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text if len(text) <= limit else text[:limit] + " …[truncated]"
