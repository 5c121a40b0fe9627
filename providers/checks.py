"""Connection tests: a demo config's (no cloud call) and the real cloud's (production readiness)."""

import concurrent.futures
import logging
import threading
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.models import AuditAction

from .clients.base import OutgoingEvent
from .clients.lazy_sdk import SdkMissing
from .endpoints import EndpointRefused
from .inbound.puller import PullFailed
from .kinds import build_client, payload_format, spec_for
from .live_clients import client_settings, puller_for
from .models import ProviderConfig, ProviderMode, ReceiverSettings, RoundTripMethod
from .modes import resolve_credentials
from .simulation import fails_every_send, simulation_words

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of one connection test."""

    ok: bool
    message: str


#: What a connection test may take beyond the configured timeout before HELIOS stops waiting.
CHECK_GRACE_SECONDS = 1.0


def check_connection(config: ProviderConfig, *, actor: Actor | None = None) -> ConnectionCheck:
    """Test the config in its configured mode; audited.

    A demo config calls no cloud, so its test checks what demo mode uses (the options and a
    sample payload) and says so; it never calls a demo config broken because the real cloud is
    out of reach. A production config's test is `check_cloud`."""
    if config.mode == ProviderMode.PRODUCTION:
        return check_cloud(config, actor=actor)
    check = _demo_check(config)
    _audit_check(config, check, actor=actor, what="Connection test (demo)")
    return check


def check_cloud(config: ProviderConfig, *, actor: Actor | None = None) -> ConnectionCheck:
    """Test the real cloud with the config's credentials, whatever its mode (for a demo config:
    is it ready for production?); the result is stored as the last cloud test, and audited.

    Bounded in total by the provider timeout (SDK retries included): past it the result says the
    cloud did not answer in time, and the SDK call is left to end on its own bounds."""
    found = resolve_credentials(config)
    if not found.ok:
        check = ConnectionCheck(False, f"credentials do not resolve: {found.problem}")
    else:
        try:
            check = _bounded_check(config)
            if check.ok and (pulled := _pull_check(config)) is not None:
                check = ConnectionCheck(pulled.ok, f"{check.message}; {pulled.message}")
        except EndpointRefused as refused:  # nothing was sent: the credentials stay home
            check = ConnectionCheck(False, f"not tested: {refused}")
    ProviderConfig.objects.filter(pk=config.pk).update(
        last_check_at=timezone.now(), last_check_ok=check.ok, last_check_message=check.message[:500]
    )
    _audit_check(config, check, actor=actor, what="Cloud connection test")
    config.refresh_from_db(fields=["last_check_at", "last_check_ok", "last_check_message"])
    return check


def _audit_check(config: ProviderConfig, check: ConnectionCheck, *, actor: Actor | None, what: str) -> None:
    audit.record(
        actor=actor,
        action=AuditAction.CONNECTION_TEST,
        target=f"provider {config.name}",
        summary=f"{what} {'passed' if check.ok else 'failed'}: {check.message}",
    )


def _demo_check(config: ProviderConfig) -> ConnectionCheck:
    """What demo mode needs: valid options, and a payload the kind's format can build and accept."""
    spec = spec_for(config.kind)
    problems = spec.validate({name: getattr(config, name) for name in spec.option_fields})
    if problems:
        return ConnectionCheck(False, "demo: " + " ".join(problems.values()))
    sample = OutgoingEvent("00000000-0000-4000-8000-000000000000", "HeliosCheck", "helios", "", timezone.now(), {})
    fmt = payload_format(client_settings(config))
    limits = fmt.problems(fmt.build(sample))
    if limits:
        return ConnectionCheck(False, "demo: " + " ".join(limits))
    if fails_every_send(config):
        return ConnectionCheck(
            False,
            "demo: set to fail every send (demo failure rate 100 %): nothing is delivered until it is lowered "
            "on the config's page.",
        )
    simulated = simulation_words(config).removeprefix("demo: ") or "no failures, no latency"
    return ConnectionCheck(
        True,
        f'demo: no cloud call; simulated settings OK ({simulated}). "Test the real cloud" checks production readiness.',
    )


def _pull_check(config: ProviderConfig) -> ConnectionCheck | None:
    """When the round trip pulls: the subscription exists and may be read (None otherwise)."""
    receiver = ReceiverSettings.objects.filter(provider=config, method=RoundTripMethod.PULL).first()
    if receiver is None:
        return None
    puller = puller_for(config)
    try:
        return ConnectionCheck(True, puller.check())
    except PullFailed as failed:
        return ConnectionCheck(False, f"the pull round trip cannot read its subscription: {failed}")
    finally:
        puller.close()


#: Connection tests that may wait for the cloud at once in one process. A test that outlives its
#: wait (an endpoint that answers a byte at a time never trips a read timeout) keeps its slot
#: until its SDK call ends, so slow endpoints hold at most this many threads and sockets.
CHECK_SLOTS = 2
_slots = threading.BoundedSemaphore(CHECK_SLOTS)
_checking: set[int] = set()
_checking_lock = threading.Lock()


def _bounded_check(config: ProviderConfig) -> ConnectionCheck:
    """The client's own check in a helper thread, waited for at most the provider timeout; one at
    a time per config and CHECK_SLOTS in all; the client is closed when its call ends."""
    timeout = settings.HELIOS_PROVIDER_TIMEOUT_SECONDS
    with _checking_lock:
        if config.pk in _checking:
            return ConnectionCheck(
                False, "An earlier test of this config is still waiting for the cloud; try again once it has ended."
            )
        if not _slots.acquire(blocking=False):
            return ConnectionCheck(
                False,
                f"{CHECK_SLOTS} connection tests are still waiting for slow endpoints; try again once they have ended.",
            )
        _checking.add(config.pk)
    try:
        client = build_client(client_settings(config, with_credentials=True), mode=ProviderMode.PRODUCTION)
    except BaseException:
        _release_slot(config.pk)
        raise
    future: concurrent.futures.Future[str] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(client.check_connection())
        except BaseException as exc:  # handed to the waiting request
            future.set_exception(exc)
        finally:
            client.close()
            _release_slot(config.pk)

    threading.Thread(target=run, name=f"helios-check-{config.pk}", daemon=True).start()
    try:
        return ConnectionCheck(True, future.result(timeout=timeout + CHECK_GRACE_SECONDS))
    except concurrent.futures.TimeoutError:
        logger.info("connection test of %s: no answer within %g s", config.name, timeout)
        return ConnectionCheck(False, f"TIMEOUT: no answer from the cloud within {timeout:g} s (the timeout).")
    except SdkMissing as missing:
        return ConnectionCheck(False, str(missing))
    except Exception as exc:  # every SDK failure becomes words, never a stack trace
        logger.info("connection test of %s failed: %s", config.name, type(exc).__name__)
        return ConnectionCheck(False, client.classify_exception(exc).describe())


def _release_slot(config_id: int) -> None:
    with _checking_lock:
        _checking.discard(config_id)
        _slots.release()
