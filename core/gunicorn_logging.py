"""gunicorn's logger with HELIOS's redaction: the access log (request line, query string,
referer, any header or environ atom: each atom is redacted before the line is formatted) and the
error log (a filter on its records) never carry a secret.

Used by the Procfile (`--logger-class core.gunicorn_logging.RedactingLogger`).
"""

from typing import Any

from gunicorn.glogging import Logger

from core.redaction import REDACTED, SECRET_NAME, environment_secrets, redact

from .logs import RedactSecrets


class RedactingLogger(Logger):
    """gunicorn's Logger; every access-log atom and every error-log record is redacted."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not any(isinstance(f, RedactSecrets) for f in self.error_log.filters):
            self.error_log.addFilter(RedactSecrets())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        secrets = environment_secrets()
        redacted = {}
        for name, value in super().atoms(resp, req, environ, request_time).items():
            if name.startswith("{") and SECRET_NAME.search(name):  # {authorization}i, {x-api-key}i, …
                redacted[name] = REDACTED
            elif isinstance(value, str):
                redacted[name] = redact(value, secrets)
            else:
                redacted[name] = value
        return redacted
