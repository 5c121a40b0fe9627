"""The demo client: the real payload flow and limits, a simulated send, no cloud call."""

import json
import random
import time
from collections.abc import Sequence

from .base import ClientSettings, Outcome, OutgoingEvent, Payload, PayloadFormat, ProviderClient, PublishResult


class DemoClient(ProviderClient):
    """Simulates a provider: realistic message ids, latency and optional failures.

    Latency is drawn per batch around `demo_latency_ms`; each event fails with a
    retryable, provider-shaped error with probability `demo_failure_rate`, so operators
    can rehearse retries.
    """

    mode = "demo"

    def __init__(self, settings: ClientSettings, payload_format: PayloadFormat) -> None:
        super().__init__(settings, payload_format)
        self._random = random.Random()

    def send_batch(self, events: Sequence[OutgoingEvent], payloads: Sequence[Payload]) -> list[PublishResult]:
        """Pretend to send one batch and report what the provider would say."""
        if self.settings.demo_latency_ms > 0:
            time.sleep(self.settings.demo_latency_ms * self._random.uniform(0.5, 1.5) / 1000)
        error_code, error_text = self.format.simulated_failure
        results = []
        for event in events:
            if self._random.random() < self.settings.demo_failure_rate:
                results.append(
                    PublishResult(
                        event_id=event.id,
                        outcome=Outcome.RETRYABLE_ERROR,
                        error_code=error_code,
                        error_message=error_text,
                        response=json.dumps({"simulated": True, "error": error_code, "message": error_text}),
                    )
                )
            else:
                message_id = self.format.new_message_id(event)
                results.append(
                    PublishResult(
                        event_id=event.id,
                        outcome=Outcome.SUCCEEDED,
                        message_id=message_id,
                        response=json.dumps({"simulated": True, "messageId": message_id}),
                    )
                )
        return results
