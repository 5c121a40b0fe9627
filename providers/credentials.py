"""Where each provider config's credentials come from, without ever exposing them.

Secrets live in the environment (or the SDKs' own default chains), never in the database.
A config may name an environment prefix so several accounts can coexist
(`ORDERS_AWS_ACCESS_KEY_ID`, `ORDERS_GOOGLE_APPLICATION_CREDENTIALS`, …).

`resolve_aws`, `resolve_gcp` and `resolve_azure` return a `Credentials` whose `source` describes
where they came from in words
an operator can show on a page; the secret values sit in `secret` (excluded from repr) and
are only handed to an SDK client.
"""

import os
from dataclasses import dataclass, field
from typing import Any

GCP_SCOPES = ["https://www.googleapis.com/auth/pubsub"]


@dataclass(frozen=True)
class Credentials:
    """Whether credentials resolve, where from (no secret), and the material for the SDK."""

    ok: bool
    source: str
    problem: str = ""
    secret: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _env(prefix: str, name: str) -> str:
    return os.environ.get(f"{prefix}{name}", "").strip()


def resolve_aws(prefix: str) -> Credentials:
    """Keys or a profile under the prefix, else boto3's default chain (env, files, SSO, roles)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    if prefix:
        key_id, secret = _env(prefix, "AWS_ACCESS_KEY_ID"), _env(prefix, "AWS_SECRET_ACCESS_KEY")
        if key_id and secret:
            return Credentials(
                ok=True,
                source=f"access key from {prefix}AWS_ACCESS_KEY_ID / {prefix}AWS_SECRET_ACCESS_KEY",
                secret={
                    "aws_access_key_id": key_id,
                    "aws_secret_access_key": secret,
                    "aws_session_token": _env(prefix, "AWS_SESSION_TOKEN") or None,
                },
            )
        profile = _env(prefix, "AWS_PROFILE")
        if not profile:
            return Credentials(
                ok=False,
                source="none",
                problem=f"set {prefix}AWS_ACCESS_KEY_ID and {prefix}AWS_SECRET_ACCESS_KEY, or {prefix}AWS_PROFILE",
            )
        session_args: dict[str, Any] = {"profile_name": profile}
        where = f"AWS profile '{profile}' ({prefix}AWS_PROFILE)"
    else:
        session_args, where = {}, "boto3 default chain"
    try:
        found = boto3.session.Session(**session_args).get_credentials()
    except BotoCoreError as exc:
        return Credentials(ok=False, source=where, problem=f"{where}: {type(exc).__name__}")
    if found is None:
        return Credentials(
            ok=False,
            source=where,
            problem="no AWS credentials found (environment, shared files, SSO or role); "
            "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a credentials prefix",
        )
    return Credentials(ok=True, source=f"{where}: {found.method}", secret={"session_args": session_args})


def resolve_gcp(prefix: str, emulator_host: str) -> Credentials:
    """An emulator needs none; else a key file under the prefix, GOOGLE_APPLICATION_CREDENTIALS or ADC."""
    import google.auth
    from google.auth.exceptions import GoogleAuthError

    emulator = emulator_host or os.environ.get("PUBSUB_EMULATOR_HOST", "")
    if emulator:
        return Credentials(
            ok=True,
            source=f"Pub/Sub emulator at {emulator} (no credentials needed)",
            secret={"emulator_host": emulator},
        )
    path = _env(prefix, "GOOGLE_APPLICATION_CREDENTIALS") if prefix else ""
    try:
        if path:
            credentials, _ = google.auth.load_credentials_from_file(path, scopes=GCP_SCOPES)
            where = f"key file from {prefix}GOOGLE_APPLICATION_CREDENTIALS"
        elif prefix:
            return Credentials(ok=False, source="none", problem=f"set {prefix}GOOGLE_APPLICATION_CREDENTIALS")
        else:
            credentials, _ = google.auth.default(scopes=GCP_SCOPES)
            where = "Application Default Credentials"
    except (GoogleAuthError, OSError, ValueError) as exc:
        return Credentials(ok=False, source="none", problem=f"no usable Google credentials ({type(exc).__name__})")
    return Credentials(ok=True, source=where, secret={"credentials": credentials})


def resolve_azure(prefix: str) -> Credentials:
    """An Event Grid access key, or a SAS token, from the environment."""
    key, sas = _env(prefix, "EVENTGRID_ACCESS_KEY"), _env(prefix, "EVENTGRID_SAS_TOKEN")
    if key:
        return Credentials(ok=True, source=f"access key from {prefix}EVENTGRID_ACCESS_KEY", secret={"key": key})
    if sas:
        return Credentials(ok=True, source=f"SAS token from {prefix}EVENTGRID_SAS_TOKEN", secret={"sas": sas})
    return Credentials(
        ok=False, source="none", problem=f"set {prefix}EVENTGRID_ACCESS_KEY or {prefix}EVENTGRID_SAS_TOKEN"
    )
