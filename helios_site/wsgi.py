"""WSGI entry point for the HELIOS web process.

Django builds its request object before any middleware runs, and that constructor raises (a
500 from the server, outside Django's error handling) when a request's Content-Type names a
charset that exists but is not a text encoding (`charset=rot13`). `application` drops such a
charset parameter first, so the request is handled (and the body read as UTF-8, as JSON is).
"""

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")

_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\s;\"]*)\"?", re.I)


def decodable_content_type(content_type: str) -> str:
    """The Content-Type without a charset parameter that cannot decode text."""
    found = _CHARSET.search(content_type)
    if found is None:
        return content_type
    try:
        "".encode(found.group(1)).decode(found.group(1))
    except LookupError:  # unknown, or not a text encoding (rot13, base64, hex)
        return content_type[: found.start()] + content_type[found.end() :]
    return content_type


def _guarded(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def guarded_application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "CONTENT_TYPE" in environ:
            environ["CONTENT_TYPE"] = decodable_content_type(environ["CONTENT_TYPE"])
        return app(environ, start_response)

    return guarded_application


application = _guarded(get_wsgi_application())

from providers.startup import log_effective_modes  # noqa: E402  (needs Django set up)

log_effective_modes(process="web")
