"""Per-provider circuit breaker, shared by every worker through the database.

Closed: sends flow. It opens after `circuit_failure_threshold` retryable failures in a row, or
when at least half of 20 or more recent sends failed. Open: nothing is sent (deliveries wait;
they are never failed or dead because of it). After `circuit_cooldown_seconds` one probe is let
through (half-open): success closes the circuit, failure opens it again.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from .models import CircuitState, CircuitTransition, ProviderConfig, ProviderRuntime

json_logger = logging.getLogger("helios.json")
RATIO_MIN_SENDS = 20
RATIO_OPEN_AT = 0.5
WINDOW_MAX_SENDS = 100


@dataclass(frozen=True)
class Gate:
    """Whether a worker may send now, and at most how many (a half-open probe sends one)."""

    allowed: bool
    limit: int | None = None


@dataclass(frozen=True)
class CircuitStatus:
    """A config's circuit as an operator reads it."""

    state: str
    since: datetime | None = None
    #: When an open circuit lets its next probe through.
    probe_at: datetime | None = None
    reason: str = ""

    @property
    def is_closed(self) -> bool:
        """Sends flow."""
        return self.state == CircuitState.CLOSED

    def short(self) -> str:
        """ "closed", "open until 20:14:05 UTC", "half-open (probing)"."""
        if self.state == CircuitState.OPEN and self.probe_at:
            return f"open until {self.probe_at:%H:%M:%S} UTC"
        if self.state == CircuitState.HALF_OPEN:
            return "half-open (probing)"
        return "closed"

    def sentence(self) -> str:
        """What the circuit means for sends now, in one sentence."""
        if self.state == CircuitState.OPEN and self.probe_at:
            return (
                f"The circuit is open since {self.since:%H:%M:%S} UTC ({self.reason}): nothing is sent until "
                f"{self.probe_at:%H:%M:%S} UTC, when the next probe sends one delivery."
            )
        if self.state == CircuitState.HALF_OPEN:
            return "The circuit is half-open: one probe delivery is being sent; the rest wait for its result."
        return "The circuit is closed: sends flow."


def circuit_status(config: ProviderConfig) -> CircuitStatus:
    """The config's circuit now (closed when it never had a runtime row)."""
    runtime = ProviderRuntime.objects.filter(provider_id=config.pk).first()
    if runtime is None or runtime.circuit_state == CircuitState.CLOSED:
        return CircuitStatus(CircuitState.CLOSED)
    probe_at = None
    if runtime.circuit_state == CircuitState.OPEN and runtime.circuit_changed_at:
        probe_at = runtime.circuit_changed_at + timedelta(seconds=config.circuit_cooldown_seconds)
    return CircuitStatus(runtime.circuit_state, runtime.circuit_changed_at, probe_at, runtime.circuit_reason)


def circuit_text(config: ProviderConfig) -> str:
    """The config's circuit in a few words (lists, CLI)."""
    return circuit_status(config).short()


def runtime_of(config: ProviderConfig) -> ProviderRuntime:
    """The config's runtime row, created on first use."""
    runtime, _ = ProviderRuntime.objects.get_or_create(provider=config)
    return runtime


def gate(config: ProviderConfig, *, probe_timeout_seconds: float) -> Gate:
    """May this worker send to the provider now?"""
    runtime = runtime_of(config)
    if runtime.circuit_state == CircuitState.CLOSED:
        return Gate(allowed=True)
    now = timezone.now()
    cooled = runtime.circuit_changed_at + timedelta(seconds=config.circuit_cooldown_seconds)
    probe_stale = runtime.circuit_changed_at + timedelta(seconds=probe_timeout_seconds)
    if (runtime.circuit_state == CircuitState.OPEN and now >= cooled) or (
        runtime.circuit_state == CircuitState.HALF_OPEN and now >= probe_stale
    ):
        # One worker wins the conditional update and sends the single probe.
        won = ProviderRuntime.objects.filter(pk=runtime.pk, circuit_changed_at=runtime.circuit_changed_at).update(
            circuit_state=CircuitState.HALF_OPEN, circuit_changed_at=now, circuit_reason="probing with one delivery"
        )
        if won:
            _transition(
                config, runtime.circuit_state, CircuitState.HALF_OPEN, "cool-down over: probing with one delivery"
            )
            return Gate(allowed=True, limit=1)
    return Gate(allowed=False)


def record(config: ProviderConfig, *, succeeded: int, failed: int, last_error: tuple[str, str] | None = None) -> None:
    """Count the health outcomes of one send (retryable failures only) and move the circuit;
    keep when the provider last succeeded and its last error (code, message), any error."""
    if not succeeded and not failed and last_error is None:
        return
    now = timezone.now()
    seen = {"last_success_at": now} if succeeded else {}
    if last_error:
        seen |= {"last_error_at": now, "last_error_code": last_error[0][:128], "last_error": last_error[1][:500]}
    if not failed:
        # The common, healthy case: one UPDATE, no lock (a half-open probe takes the full path).
        healthy = ProviderRuntime.objects.filter(provider=config, circuit_state=CircuitState.CLOSED).update(
            consecutive_failures=0, window_sent=Least(F("window_sent") + succeeded, WINDOW_MAX_SENDS), **seen
        )
        if healthy:
            return
    with transaction.atomic():
        runtime = ProviderRuntime.objects.select_for_update().get(provider=config)
        for name, value in seen.items():
            setattr(runtime, name, value)
        before = runtime.circuit_state
        runtime.consecutive_failures = failed if succeeded else runtime.consecutive_failures + failed
        runtime.window_sent += succeeded + failed
        runtime.window_failed += failed
        if runtime.window_sent > WINDOW_MAX_SENDS:
            runtime.window_sent //= 2
            runtime.window_failed //= 2
        reason = ""
        if before == CircuitState.HALF_OPEN:
            if failed:
                reason = "the probe failed"
            else:
                runtime.consecutive_failures = runtime.window_sent = runtime.window_failed = 0
        elif before == CircuitState.CLOSED:
            if runtime.consecutive_failures >= config.circuit_failure_threshold:
                reason = f"{runtime.consecutive_failures} failures in a row"
            elif (
                runtime.window_sent >= RATIO_MIN_SENDS and runtime.window_failed / runtime.window_sent >= RATIO_OPEN_AT
            ):
                reason = f"{runtime.window_failed} of the last {runtime.window_sent} sends failed"
        after = CircuitState.OPEN if reason else (CircuitState.CLOSED if before == CircuitState.HALF_OPEN else before)
        if after != before:
            runtime.circuit_state = after
            runtime.circuit_changed_at = now
            runtime.circuit_reason = reason or "the probe succeeded"
            _transition(config, before, after, runtime.circuit_reason)
        runtime.save()


def _transition(config: ProviderConfig, before: str, after: str, reason: str) -> None:
    """Keep the transition as an incident record and log it (in the caller's transaction)."""
    CircuitTransition.objects.create(provider=config, from_state=before, to_state=after, reason=reason[:300])
    json_logger.info(
        json.dumps(
            {"event": "circuit_transition", "provider": config.name, "from": before, "to": after, "reason": reason}
        )
    )
