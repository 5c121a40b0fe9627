"""One cloud SDK client, made on first use, reused, and closed once: what a production client and
a puller both hold."""

import threading
from collections.abc import Callable
from typing import Any


class SdkMissing(RuntimeError):
    """The cloud SDK a production client needs is not installed: a configuration error, in words."""


class LazySdk:
    """The SDK client of one config: `get` makes it on first use (thread-safe), `close` releases
    its connections, and the next `get` connects again."""

    def __init__(self, owner: str, make: Callable[[], Any], close: Callable[[Any], None]) -> None:
        self._owner = owner
        self._make = make
        self._close = close
        self._sdk: Any = None
        self._lock = threading.Lock()

    @property
    def current(self) -> Any:
        """The SDK client made and not closed since, or None."""
        return self._sdk

    def get(self) -> Any:
        """The SDK client, made now if none is open; SdkMissing when its package is not installed."""
        with self._lock:
            if self._sdk is None:
                try:
                    self._sdk = self._make()
                except ImportError as missing:
                    raise SdkMissing(
                        f"The SDK for {self._owner} is not installed ({missing.name}): "
                        "install requirements.txt into this environment."
                    ) from missing
            return self._sdk

    def close(self) -> None:
        """Release the SDK client's connections, if one is open."""
        with self._lock:
            if self._sdk is not None:
                self._close(self._sdk)
                self._sdk = None
