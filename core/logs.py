"""Structured logs: one JSON object per line (LOG_FORMAT=json), with the request id, event id,
delivery id and provider of whatever is being done, and secrets removed whatever a caller logs.

- `RequestIdMiddleware` takes a sane incoming `X-Request-ID` or makes one, binds it for the
  request's log lines and returns it in the response.
- `bind(...)` adds event_id / delivery_id / provider (or anything) to the lines logged inside it;
  a line logged inside a traced span also carries `trace_id` and `span_id`.
- `ContextFilter` copies the bound values onto every record; `RedactSecrets` runs the one
  redaction (core.redaction) over the formatted message, the traceback and every extra attribute
  (django.request's `request`, whose text carries the query string, included).
- `JsonFormatter` (python-json-logger) also merges the `helios.json` events, already JSON objects,
  into the line instead of quoting them.
"""

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest, HttpResponse
from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from core.redaction import environment_secrets, redact

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("helios_log_context", default={})  # noqa: B039
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: What every LogRecord has; anything else on a record is an extra (redacted like the message).
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


@contextmanager
def bind(**values: Any) -> Iterator[None]:
    """Add values (event_id, delivery_id, provider, …) to every log line inside the block."""
    token = _context.set({**_context.get(), **{k: str(v) for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class RequestIdMiddleware:
    """A request id for each request's log lines, echoed in the X-Request-ID response header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        with bind(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class ContextFilter(logging.Filter):
    """Copy the bound context (request id, event id, delivery id, provider) onto the record, and
    the current span's `trace_id` and `span_id` while one is traced (core/tracing.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        if (current := trace.get_current_span().get_span_context()).is_valid:
            record.trace_id = format(current.trace_id, "032x")
            record.span_id = format(current.span_id, "016x")
        return True


class RedactSecrets(logging.Filter):
    """Remove secrets from the message (arguments included), the traceback, the stack and every
    extra attribute of a record; an extra that is not a plain value (a request) becomes its text."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = environment_secrets()
        record.msg = redact(record.getMessage(), secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        for name, value in list(vars(record).items()):
            if name in STANDARD_ATTRIBUTES or value is None or isinstance(value, bool | int | float):
                continue
            setattr(record, name, redact(value if isinstance(value, str) else repr(value), secrets))
        return True


class JsonFormatter(BaseJsonFormatter):
    """python-json-logger's formatter; a `helios.json` message (a JSON object) is merged in."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        message = log_data.get("message")
        if isinstance(message, str) and message.startswith("{"):
            try:
                event = json.loads(message)
            except ValueError:
                return log_data
            if isinstance(event, dict):
                log_data["message"] = event.pop("event", "event")
                log_data.update({k: v for k, v in event.items() if k not in log_data})
        return log_data


class PlainFormatter(logging.Formatter):
    """The terminal's one format (LOG_FORMAT=plain): a `helios.json` event is shown like every
    other line, its fields as key=value, not as a JSON object in the middle of plain text."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{"):
            try:
                event = json.loads(message)
            except ValueError:
                event = None
            if isinstance(event, dict):
                name = event.pop("event", "event")
                fields = " ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in event.items())
                record.message = f"{name}: {fields}" if fields else str(name)
        return super().formatMessage(record)
