"""One cloud SDK client, made on first use, reused, and closed once: what a production client and
a puller both hold."""

import threading
from abc import ABC, abstractmethod
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


class HoldsSdk(ABC):
    """What a production client and a puller share: one lazily made SDK client (`sdk`), made by
    `make_sdk`, released by `close_sdk`, closed with `close`."""

    lazy_sdk: LazySdk

    def hold_sdk(self, owner: str) -> None:
        """Start holding (nothing is made until `sdk` is first used); call it in __init__."""
        self.lazy_sdk = LazySdk(owner, self.make_sdk, self.close_sdk)

    @property
    def sdk(self) -> Any:
        """The SDK client, made on first use (thread-safe) and reused."""
        return self.lazy_sdk.get()

    @abstractmethod
    def make_sdk(self) -> Any:
        """Create the SDK client from the settings."""

    def close_sdk(self, sdk: Any) -> None:
        """Release the SDK client's connections (SDKs without a close hold none)."""
        if hasattr(sdk, "close"):
            sdk.close()

    def close(self) -> None:
        """Close the SDK client; the next use connects again."""
        self.lazy_sdk.close()
