"""CloudEvents over HTTP: each request POSTed to the endpoint with plain HTTP (requests), signed
as Standard Webhooks specify so the receiver can verify it came from HELIOS.

Answers: 2xx accepted; 429 (with its Retry-After), 408 and 5xx retried by HELIOS's schedule;
any other status permanent (a redirect included: HELIOS never follows one, so events and their
signatures go only where the config says). No retries inside the client and timeouts bounded by
HELIOS_PROVIDER_TIMEOUT_SECONDS, so a task never hangs on a slow endpoint.
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from ...clients.base import ErrorClass, Outcome, OutgoingEvent, Payload, PublishResult, SdkClient, SdkFailure
from ...clients.jsonsize import compact_json
from ...endpoints import connection_problem
from .options import URL_ENDPOINT
from .payload import BATCHED, BINARY, CONTENT_TYPES, STRUCTURED

#: Names the batch a request carries (the same events give the same webhook-id on every retry).
#: What a ce-* header may carry as it is: printable ASCII but space, double quote and percent
#: (the CloudEvents HTTP binding percent-encodes the rest).
HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')
BATCH_NAMESPACE = uuid.UUID("6f1c2b9e-4a0d-4c57-9a53-3e1f5b2d8c10")
USER_AGENT = "HELIOS-CloudEvents/1.0"
#: How much of an endpoint's answer is read and kept with the attempt.
ANSWER_BYTES = 2048

STATUS: dict[int, ErrorClass] = {
    400: ErrorClass(False, "The endpoint refused the request as invalid."),
    401: ErrorClass(False, "The endpoint refused HELIOS's signature or credentials (check the webhook secret)."),
    403: ErrorClass(False, "The endpoint refused HELIOS's signature or credentials (check the webhook secret)."),
    404: ErrorClass(False, "The endpoint URL was not found."),
    408: ErrorClass(True, "The endpoint timed out the request."),
    413: ErrorClass(False, "The endpoint refused the request as too large (lower the config's request size)."),
    415: ErrorClass(False, "The endpoint does not take this content mode (try structured or binary)."),
    429: ErrorClass(True, "The endpoint throttled the request."),
}
TIMED_OUT = ErrorClass(True, "The endpoint did not answer in time.")
UNREACHABLE = ErrorClass(True, "Could not reach the endpoint (connection failed).")
REFUSED = ErrorClass(False, "HELIOS may not send to this endpoint now.")


def classify_status(status: int) -> ErrorClass:
    """The error class of an HTTP status the endpoint answered."""
    if status in STATUS:
        return STATUS[status]
    if 300 <= status < 400:
        return ErrorClass(False, f"The endpoint answered a redirect (HTTP {status}); HELIOS does not follow redirects.")
    return ErrorClass(status >= 500, f"The endpoint answered HTTP {status}.")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0) if when.tzinfo else None


class EndpointNotAllowed(Exception):
    """The endpoint resolves to an address HELIOS may not send to (the message says why)."""


class EndpointAnswered(Exception):
    """A connection test the endpoint refused, classified."""

    def __init__(self, failure: SdkFailure) -> None:
        super().__init__(failure.describe())
        self.failure = failure


class CloudEventsHttpClient(SdkClient):
    """One signed POST per request; the SDK is a `requests` session (its connection pool)."""

    def make_sdk(self) -> Any:
        """A session without retries (HELIOS schedules them) that keeps connections open."""
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        return session

    def request(self, payloads: Sequence[Payload]) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one request: the content mode's, and the signature's."""
        mode = self.format.options.get("content_mode") or STRUCTURED
        headers = {"Content-Type": CONTENT_TYPES[mode]}
        if mode == BATCHED:
            body = compact_json([payload.body for payload in payloads]).encode()
            message_id = str(uuid.uuid5(BATCH_NAMESPACE, ",".join(p.event_id for p in payloads)))
        elif mode == BINARY:
            [payload] = payloads
            event = payload.body
            body = compact_json(event["data"]).encode()
            headers |= {
                f"ce-{name}": quote(str(value), safe=HEADER_SAFE)
                for name, value in event.items()
                if name not in ("data", "datacontenttype")
            }
            message_id = payload.event_id
        else:
            [payload] = payloads
            body = compact_json(payload.body).encode()
            message_id = payload.event_id
        return body, headers | self.signature(message_id, body)

    def signature(self, message_id: str, body: bytes) -> dict[str, str]:
        """Standard Webhooks headers: webhook-id, webhook-timestamp, webhook-signature (HMAC-SHA256)."""
        from standardwebhooks.webhooks import Webhook

        now = datetime.now(UTC)
        signed = Webhook(self.settings.credentials["secret"]).sign(message_id, now, body)
        return {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signed}

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Mapping[str, str], str]:
        """POST to the endpoint after checking where its name points now: the status, the headers
        and the start of the answer (at most ANSWER_BYTES are read: an endpoint cannot make a
        worker hold a large answer)."""
        url = self.settings.options["url"]
        if refused := connection_problem(URL_ENDPOINT, url):
            raise EndpointNotAllowed(refused)
        response = self.sdk.post(
            url, data=body, headers=headers, timeout=self.timeouts(), allow_redirects=False, stream=True
        )
        try:
            start = response.raw.read(ANSWER_BYTES, decode_content=True) or b""
        finally:
            response.close()
        return response.status_code, response.headers, start.decode("utf-8", errors="replace")

    def timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts within HELIOS_PROVIDER_TIMEOUT_SECONDS."""
        timeout = self.settings.timeout_seconds
        return min(5.0, timeout), timeout

    def send_batch(self, events: Sequence[OutgoingEvent], payloads: Sequence[Payload]) -> list[PublishResult]:
        """One signed request; the endpoint accepts or refuses it as a unit."""
        body, headers = self.request(payloads)
        try:
            status, answer_headers, text = self.post(body, headers)
        except Exception as exc:
            failure = self.classify_exception(exc)
            return [failure.result(e.id, response=f"{type(exc).__name__}: {exc}") for e in events]
        answer = f"HTTP {status}: {text}".rstrip(": ")
        if 200 <= status < 300:
            return [
                PublishResult(
                    event_id=e.id,
                    outcome=Outcome.SUCCEEDED,
                    message_id=e.id,
                    status_code=status,
                    response=answer,
                )
                for e in events
            ]
        retry_after = retry_after_seconds(answer_headers.get("Retry-After"))
        detail = f"provider asks to retry after {retry_after:g} s" if retry_after is not None else ""
        error = classify_status(status)
        return [
            error.result(
                e.id,
                code=f"HTTP {status}",
                detail=detail,
                status_code=status,
                retry_after_seconds=retry_after,
                response=answer,
            )
            for e in events
        ]

    def classify_exception(self, exc: Exception) -> SdkFailure:
        """What a requests exception (or a refused address) means."""
        import requests

        if isinstance(exc, EndpointAnswered):
            return exc.failure
        if isinstance(exc, EndpointNotAllowed):
            return SdkFailure(REFUSED, "EndpointRefused", str(exc))
        if isinstance(exc, requests.Timeout):
            return SdkFailure(TIMED_OUT, "Timeout")
        if isinstance(exc, requests.ConnectionError):
            return SdkFailure(UNREACHABLE, "ConnectionError")
        return super().classify_exception(exc)

    def check_connection(self) -> str:
        """The CloudEvents webhook handshake (OPTIONS with WebHook-Request-Origin): proves the
        endpoint answers and, when it implements the handshake, that it accepts HELIOS as a sender.
        Nothing is delivered."""
        url = self.settings.options["url"]
        if refused := connection_problem(URL_ENDPOINT, url):
            raise EndpointNotAllowed(refused)
        headers = {"WebHook-Request-Origin": "helios"} | self.signature(f"check-{uuid.uuid4()}", b"")
        response = self.sdk.options(url, headers=headers, timeout=self.timeouts(), allow_redirects=False, stream=True)
        response.close()  # only the status and headers matter
        status = response.status_code
        if 200 <= status < 300:
            allowed = response.headers.get("WebHook-Allowed-Origin", "")
            if allowed in ("*", "helios"):
                return "endpoint reachable; it accepted HELIOS as a sender (CloudEvents webhook handshake)"
            return f"endpoint reachable (HTTP {status}); it does not answer the CloudEvents webhook handshake"
        if status in (401, 403) or 300 <= status < 400:
            raise EndpointAnswered(SdkFailure(classify_status(status), f"HTTP {status}", status_code=status))
        return f"endpoint reachable (HTTP {status} to the handshake: events are POSTed, which it may still accept)"
