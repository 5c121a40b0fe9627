"""The puller interface of the pull round trip: HELIOS fetches its events back from a cloud
subscription instead of waiting for a push to a public URL (Pub/Sub pull subscription, an SQS queue behind an
EventBridge rule, an Event Grid namespace subscription in queue mode).

A `Puller` wraps one cloud SDK's receive/acknowledge calls and returns plain `Pulled` values;
when pollers run and what to do with what they pull (receipts, confirmation) belongs to
`events.services.polling`.
"""

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..clients.base import ClientSettings, exception_text
from ..clients.lazy_sdk import HoldsSdk
from .parsing import InboundEvent, InboundRejected


@dataclass(frozen=True)
class PullTarget:
    """Where a config's events come back: a subscription (a Pub/Sub subscription id, an SQS queue
    URL, an Event Grid event subscription) and the kind's own pull options by key (Event Grid: the
    namespace endpoint and topic)."""

    subscription: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pulled:
    """One message received: the handle that acknowledges it, and the event it holds. A message
    HELIOS cannot parse still becomes an event without a HELIOS id (recorded as unexpected), with
    `problem` saying why; it is settled like the rest, so it is never redelivered forever."""

    handle: str
    event: InboundEvent
    problem: str = ""


class PullFailed(Exception):
    """The cloud refused or did not answer a pull call; the message says what it said."""


def unparsable(handle: str, message_id: str, subscription: str, problem: str, body: Any) -> Pulled:
    """A message that is not what HELIOS sent: kept as an unexpected arrival with the reason."""
    event = InboundEvent(
        event_id="",
        message_id=message_id or f"handle:{handle[:200]}",
        subscription=subscription,
        raw={"unparsable": problem, "body": body},
    )
    return Pulled(handle=handle, event=event, problem=problem)


class Puller(HoldsSdk):
    """One cloud subscription's receive and acknowledge calls through its SDK."""

    #: The most messages one receive call may ask for.
    max_per_call: ClassVar[int]

    def __init__(self, settings: ClientSettings, target: PullTarget, *, wait_seconds: int) -> None:
        self.settings = settings
        self.target = target
        self.wait_seconds = wait_seconds
        self.hold_sdk(settings.name)

    @abstractmethod
    def receive(self, max_messages: int) -> list[Pulled]:
        """Up to `max_messages` (at most `max_per_call`), waiting up to `wait_seconds` for the first."""

    @abstractmethod
    def acknowledge(self, handles: list[str]) -> None:
        """Settle received messages: the cloud deletes them."""

    def discard(self, handles: list[str]) -> None:
        """Settle messages HELIOS cannot parse (acknowledged unless the cloud can dead-letter them)."""
        self.acknowledge(handles)

    @abstractmethod
    def check(self) -> str:
        """Prove the subscription exists and may be read; what was proved, in words."""


def failed(action: str, exc: BaseException) -> PullFailed:
    """A pull call's exception in words."""
    return PullFailed(f"{action} failed: {exception_text(exc)}"[:500])


def parse_or_keep(handle: str, message_id: str, subscription: str, body: Any, parse: Any) -> Pulled:
    """`parse()`'s event, or the message kept as unexpected with the reason it could not be parsed."""
    try:
        return Pulled(handle=handle, event=parse())
    except InboundRejected as rejected:
        return unparsable(handle, message_id, subscription, str(rejected), body)
