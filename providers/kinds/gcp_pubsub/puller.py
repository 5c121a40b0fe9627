"""Pub/Sub pull subscription: google-cloud-pubsub's SubscriberClient, unary Pull and Acknowledge."""

from typing import Any, ClassVar

from ...inbound.puller import Pulled, Puller, failed, parse_or_keep
from .parser import pubsub_message


class PubSubPuller(Puller):
    """Pulls from `projects/<project>/subscriptions/<subscription>` (the config's project)."""

    max_per_call: ClassVar[int] = 1000

    @property
    def subscription_path(self) -> str:
        """The subscription's full name."""
        name = self.target.subscription
        return (
            name
            if name.startswith("projects/")
            else f"projects/{self.settings.options['project']}/subscriptions/{name}"
        )

    def make_sdk(self) -> Any:
        """The SubscriberClient, on the emulator when the config names one."""
        import grpc
        from google.cloud import pubsub_v1
        from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

        emulator = self.settings.credentials.get("emulator_host")
        if emulator:
            transport = SubscriberGrpcTransport(channel=grpc.insecure_channel(emulator), host=emulator)
            return pubsub_v1.SubscriberClient(transport=transport)
        return pubsub_v1.SubscriberClient(credentials=self.settings.credentials.get("credentials"))

    def receive(self, max_messages: int) -> list[Pulled]:
        """One Pull call; an empty subscription answers nothing (or DEADLINE_EXCEEDED) within the wait."""
        from google.api_core import exceptions as gexc

        try:
            response = self.sdk.pull(
                subscription=self.subscription_path,
                max_messages=min(max_messages, self.max_per_call),
                timeout=self.wait_seconds + self.settings.timeout_seconds,
                retry=None,
            )
        except gexc.DeadlineExceeded:
            return []
        except Exception as exc:
            raise failed(f"Pull from {self.subscription_path}", exc) from exc
        return [self._pulled(received) for received in response.received_messages]

    def _pulled(self, received: Any) -> Pulled:
        message = received.message
        attributes = dict(message.attributes)
        data = message.data.decode("utf-8", errors="replace")
        raw = {
            "message": {
                "data": data,
                "attributes": attributes,
                "messageId": message.message_id,
                "publishTime": message.publish_time.isoformat() if message.publish_time else "",
                **({"orderingKey": message.ordering_key} if message.ordering_key else {}),
            },
            "subscription": self.subscription_path,
            "deliveryAttempt": received.delivery_attempt,
        }
        return parse_or_keep(
            received.ack_id,
            message.message_id,
            self.subscription_path,
            raw,
            lambda: pubsub_message(
                message_id=message.message_id,
                attributes=attributes,
                ordering_key=message.ordering_key,
                subscription=self.subscription_path,
                raw=raw,
            ),
        )

    def acknowledge(self, handles: list[str]) -> None:
        """Acknowledge by ack id (Pub/Sub takes up to 2,500 a call; a pull gives at most 1,000)."""
        if not handles:
            return
        try:
            self.sdk.acknowledge(
                subscription=self.subscription_path, ack_ids=handles, timeout=self.settings.timeout_seconds
            )
        except Exception as exc:
            raise failed(f"Acknowledge on {self.subscription_path}", exc) from exc

    def check(self) -> str:
        """GetSubscription: it exists, and on which topic."""
        try:
            subscription = self.sdk.get_subscription(
                subscription=self.subscription_path, timeout=self.settings.timeout_seconds
            )
        except Exception as exc:
            raise failed(f"Reading the subscription {self.subscription_path}", exc) from exc
        return f"pull subscription {subscription.name} exists (topic {subscription.topic})"
