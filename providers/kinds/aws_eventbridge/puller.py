"""EventBridge round trip through SQS: a rule on the bus targets a queue; boto3 long-polls it
(batches of 10, SQS's most) and deletes what it received."""

from typing import Any, ClassVar

from ...inbound.puller import Pulled, Puller, PullFailed, failed, parse_or_keep
from .aws import aws_client
from .parser import parse_eventbridge


class SqsPuller(Puller):
    """Receives from the queue URL the config names (the rule's SQS target)."""

    max_per_call: ClassVar[int] = 10

    def make_sdk(self) -> Any:
        """The boto3 SQS client, with the config's region, endpoint and credentials."""
        return aws_client(self.settings, "sqs", read_timeout=self.wait_seconds + self.settings.timeout_seconds)

    def receive(self, max_messages: int) -> list[Pulled]:
        """One ReceiveMessage with long polling."""
        try:
            response = self.sdk.receive_message(
                QueueUrl=self.target.subscription,
                MaxNumberOfMessages=max(1, min(max_messages, self.max_per_call)),
                WaitTimeSeconds=min(self.wait_seconds, 20),
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
        except Exception as exc:
            raise failed(f"ReceiveMessage from {self.target.subscription}", exc) from exc
        return [self._pulled(message) for message in response.get("Messages", [])]

    def _pulled(self, message: dict[str, Any]) -> Pulled:
        body = message.get("Body", "")

        def parse() -> Any:
            [event] = parse_eventbridge(body.encode("utf-8", errors="surrogatepass")).events
            return event

        return parse_or_keep(
            message["ReceiptHandle"], message.get("MessageId", ""), self.target.subscription, body, parse
        )

    def acknowledge(self, handles: list[str]) -> None:
        """DeleteMessageBatch, 10 at a time; a handle SQS could not delete is a failure in words."""
        for start in range(0, len(handles), self.max_per_call):
            chunk = handles[start : start + self.max_per_call]
            entries = [{"Id": str(number), "ReceiptHandle": handle} for number, handle in enumerate(chunk)]
            try:
                response = self.sdk.delete_message_batch(QueueUrl=self.target.subscription, Entries=entries)
            except Exception as exc:
                raise failed(f"DeleteMessageBatch on {self.target.subscription}", exc) from exc
            if response.get("Failed"):
                first = response["Failed"][0]
                why = f"{first.get('Code')} {first.get('Message', '')}".strip()
                raise PullFailed(f"SQS did not delete {len(response['Failed'])} message(s): {why}")

    def check(self) -> str:
        """GetQueueAttributes: the queue exists and may be read."""
        try:
            answer = self.sdk.get_queue_attributes(
                QueueUrl=self.target.subscription, AttributeNames=["ApproximateNumberOfMessages"]
            )
        except Exception as exc:
            raise failed(f"Reading the queue {self.target.subscription}", exc) from exc
        waiting = answer.get("Attributes", {}).get("ApproximateNumberOfMessages", "?")
        return f"SQS queue {self.target.subscription} exists ({waiting} messages waiting)"
