"""Google credentials: none for an emulator, else a key file under the prefix or ADC."""

import os

from ...credentials import Credentials, env_value

GCP_SCOPES = ["https://www.googleapis.com/auth/pubsub"]


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
    path = env_value(prefix, "GOOGLE_APPLICATION_CREDENTIALS") if prefix else ""
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
