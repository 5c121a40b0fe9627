"""Authenticating a cloud's push request against a config's receiver settings.

Outcomes: accepted, 401 (no credentials), 403 (wrong credentials), 503 (HELIOS cannot check:
the secret is not configured, or the OIDC certificates cannot be fetched). Secrets are compared
in constant time and never appear in a message.
"""

import base64
import binascii
import concurrent.futures
import hmac
import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.auth import exceptions as google_exceptions
from google.auth import jwt

logger = logging.getLogger(__name__)

CERTS_TTL_SECONDS = 600.0
#: One socket operation of the fetch; the whole wait of a request is CERTS_DEADLINE_SECONDS.
CERTS_TIMEOUT_SECONDS = 5.0
CERTS_DEADLINE_SECONDS = 5.0
CERTS_FAILURE_TTL_SECONDS = 30.0
CERTS_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class AuthOutcome:
    """Whether the request may be accepted; if not, the HTTP status and the reason in words."""

    status: int = 200
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == 200


ACCEPTED = AuthOutcome()


@dataclass(frozen=True)
class ReceiverAuthSettings:
    """What checking a request needs (plain values from a config's receiver settings)."""

    auth: str
    secret_env: str = ""
    api_key_header: str = "x-api-key"
    basic_username: str = ""
    oidc_audience: str = ""
    oidc_issuers: tuple[str, ...] = ()
    oidc_email: str = ""
    oidc_certs_url: str = ""

    def secret(self) -> str:
        """The shared secret from the environment ("" when not set)."""
        return os.environ.get(self.secret_env, "") if self.secret_env else ""


def authenticate(settings: ReceiverAuthSettings, headers: Mapping[str, str], query: Mapping[str, str]) -> AuthOutcome:
    """Check one request (headers with lower-case names) against the receiver's authentication."""
    if settings.auth == "oidc":
        return _check_oidc(settings, headers.get("authorization", ""))
    secret = settings.secret()
    if not secret:
        logger.warning("receiver secret %s is not set: requests are refused", settings.secret_env)
        return AuthOutcome(503, f"The receiver's secret ({settings.secret_env}) is not configured.")
    if settings.auth == "token":
        return _compare(query.get("token", ""), secret, "token")
    if settings.auth == "api_key":
        return _compare(headers.get(settings.api_key_header.lower(), ""), secret, settings.api_key_header)
    if settings.auth == "basic":
        return _check_basic(headers.get("authorization", ""), settings.basic_username, secret)
    return AuthOutcome(503, "The receiver's authentication is not configured.")


def _compare(given: str, expected: str, what: str) -> AuthOutcome:
    if not given:
        return AuthOutcome(401, f"No {what} given.")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return AuthOutcome(403, f"Wrong {what}.")
    return ACCEPTED


def _check_basic(header: str, username: str, password: str) -> AuthOutcome:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return AuthOutcome(401, "No Basic credentials given.")
    try:
        given_user, _, given_password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        return AuthOutcome(401, "Malformed Basic credentials.")
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return ACCEPTED if user_ok and password_ok else AuthOutcome(403, "Wrong Basic credentials.")


def _check_oidc(settings: ReceiverAuthSettings, header: str) -> AuthOutcome:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return AuthOutcome(401, "No bearer token given.")
    try:
        certs = signing_certificates(settings.oidc_certs_url)
    except CertificatesUnavailable as error:
        logger.warning("OIDC certificates from %s unavailable: %s", settings.oidc_certs_url, error)
        return AuthOutcome(503, "The OIDC signing certificates cannot be fetched right now; try again later.")
    try:
        claims = jwt.decode(token, certs=certs, audience=settings.oidc_audience)
    except (google_exceptions.GoogleAuthError, ValueError) as error:
        return AuthOutcome(403, f"The bearer token is not valid: {_short(error)}")
    if claims.get("iss") not in settings.oidc_issuers:
        return AuthOutcome(403, "The bearer token's issuer is not accepted.")
    if settings.oidc_email and (claims.get("email") != settings.oidc_email or not claims.get("email_verified")):
        return AuthOutcome(403, "The bearer token is not from the configured service account.")
    return ACCEPTED


def _short(error: Exception) -> str:
    text = str(error).split("\n", 1)[0]
    return text[:200] if text else type(error).__name__


_certs_cache: dict[str, tuple[float, Any]] = {}
_failed_at: dict[str, float] = {}
_fetches: dict[str, concurrent.futures.Future] = {}
_fetches_lock = threading.Lock()


class CertificatesUnavailable(Exception):
    """The issuer's signing certificates could not be had in time (the message says why)."""


def signing_certificates(url: str) -> Any:
    """The issuer's certificates (key id → PEM), fetched at most every 10 minutes per process.

    A request waits at most CERTS_DEADLINE_SECONDS in all, whatever the issuer does (an endpoint
    that answers a byte at a time never trips a socket timeout): one fetch per URL runs at a time,
    in the background, and a failure is remembered for CERTS_FAILURE_TTL_SECONDS, during which
    requests are answered at once. CertificatesUnavailable otherwise."""
    now = time.monotonic()
    cached = _certs_cache.get(url)
    if cached and now - cached[0] < CERTS_TTL_SECONDS:
        return cached[1]
    failed = _failed_at.get(url)
    if failed is not None and now - failed < CERTS_FAILURE_TTL_SECONDS:
        raise CertificatesUnavailable("the last fetch failed moments ago")
    with _fetches_lock:
        fetch = _fetches.get(url)
        if fetch is None or fetch.done():
            fetch = _fetches[url] = concurrent.futures.Future()
            threading.Thread(target=_fetch, args=(url, fetch), name="helios-oidc-certs", daemon=True).start()
    try:
        return fetch.result(timeout=CERTS_DEADLINE_SECONDS)
    except concurrent.futures.TimeoutError:
        _failed_at[url] = time.monotonic()
        raise CertificatesUnavailable(f"no answer within {CERTS_DEADLINE_SECONDS:g} s") from None
    except Exception as error:
        raise CertificatesUnavailable(type(error).__name__) from error


def _fetch(url: str, fetch: concurrent.futures.Future) -> None:
    try:
        with urllib.request.urlopen(url, timeout=CERTS_TIMEOUT_SECONDS) as response:
            body = response.read(CERTS_MAX_BYTES + 1)
        if len(body) > CERTS_MAX_BYTES:
            raise ValueError("the certificates document is too large")
        certs = json.loads(body)
        if not isinstance(certs, dict) or not certs:
            raise ValueError("no certificates")
    except Exception as error:  # any failure of the issuer or the network: remembered, answered 503
        _failed_at[url] = time.monotonic()
        fetch.set_exception(error)
        return
    _certs_cache[url] = (time.monotonic(), certs)
    _failed_at.pop(url, None)
    fetch.set_result(certs)
