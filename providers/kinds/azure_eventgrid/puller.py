"""Event Grid namespace topic, event subscription in queue mode: azure-eventgrid's
EventGridConsumerClient receives, acknowledges, and rejects what HELIOS cannot parse (the
subscription's dead-letter destination keeps it, where one is set)."""

from typing import Any, ClassVar

from ...inbound.puller import Pulled, Puller, PullFailed, failed, parse_or_keep
from .parser import cloudevent_message


class EventGridPuller(Puller):
    """Receives from `<namespace endpoint>`, topic and event subscription the config names."""

    max_per_call: ClassVar[int] = 100

    @property
    def where(self) -> str:
        """The subscription in one line."""
        return f"{self.target.options['namespace_topic']}/{self.target.subscription}"

    def make_sdk(self) -> Any:
        """The consumer client with the config's access key (or SAS)."""
        from azure.core.credentials import AzureKeyCredential, AzureSasCredential
        from azure.eventgrid import EventGridConsumerClient

        secret = self.settings.credentials
        credential = AzureKeyCredential(secret["key"]) if "key" in secret else AzureSasCredential(secret["sas"])
        return EventGridConsumerClient(
            self.target.options["namespace_endpoint"],
            credential,
            namespace_topic=self.target.options["namespace_topic"],
            subscription=self.target.subscription,
        )

    def _options(self) -> dict[str, Any]:
        """Per-call options (azure-eventgrid 4.22.1 drops constructor ones): bounded, no status retries."""
        return {
            "retry_total": 1,
            "retry_status": 0,
            "connection_timeout": min(5.0, self.settings.timeout_seconds),
            "read_timeout": self.wait_seconds + self.settings.timeout_seconds,
        }

    def receive(self, max_messages: int) -> list[Pulled]:
        """One receive call (Event Grid waits 10 to 120 s for a first event)."""
        try:
            details = self.sdk.receive(
                max_events=max(1, min(max_messages, self.max_per_call)),
                max_wait_time=max(10, min(self.wait_seconds, 120)),
                **self._options(),
            )
        except Exception as exc:
            raise failed(f"Receive from {self.where}", exc) from exc
        return [self._pulled(detail) for detail in details]

    def _pulled(self, detail: Any) -> Pulled:
        event = detail.event
        attributes = {
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "specversion": event.specversion,
            "subject": event.subject,
            "time": event.time.isoformat() if event.time else None,
            "data": event.data,
        }
        token = detail.broker_properties.lock_token
        return parse_or_keep(
            token,
            str(event.id or ""),
            self.where,
            attributes,
            lambda: cloudevent_message(attributes, subscription=self.where),
        )

    def _settle(self, action: str, handles: list[str]) -> None:
        if not handles:
            return
        try:
            result = getattr(self.sdk, action)(lock_tokens=handles, **self._options())
        except Exception as exc:
            raise failed(f"{action.capitalize()} on {self.where}", exc) from exc
        if result.failed_lock_tokens:
            first = result.failed_lock_tokens[0]
            raise PullFailed(f"Event Grid could not {action} {len(result.failed_lock_tokens)} event(s): {first.error}")

    def acknowledge(self, handles: list[str]) -> None:
        """Acknowledge by lock token."""
        self._settle("acknowledge", handles)

    def discard(self, handles: list[str]) -> None:
        """Reject: Event Grid dead-letters it (where configured) and never delivers it again."""
        self._settle("reject", handles)

    def check(self) -> str:
        """Event Grid has no read call for a subscription in the data plane: a receive of nothing
        (1 event, shortest wait) proves the endpoint, key and subscription; what it gets is released."""
        try:
            details = self.sdk.receive(max_events=1, max_wait_time=10, **self._options())
            if details:
                self.sdk.release(lock_tokens=[d.broker_properties.lock_token for d in details], **self._options())
        except Exception as exc:
            raise failed(f"Receiving from {self.where}", exc) from exc
        return f"namespace subscription {self.where} may be read"
