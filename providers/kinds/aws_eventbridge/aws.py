"""boto3 clients made from a provider config's settings (shared by EventBridge and the SQS puller)."""

from typing import Any

from ...clients.base import ClientSettings


def aws_client(settings: ClientSettings, service: str, *, read_timeout: float) -> Any:
    """A boto3 client of a config (its region, endpoint and credentials): standard retry mode,
    2 attempts, bounded timeouts. EventBridge sends with it; the pull round trip reads SQS."""
    import boto3
    from botocore.config import Config

    credentials = dict(settings.credentials)
    session = boto3.session.Session(**credentials.pop("session_args", {}))
    return session.client(
        service,
        region_name=settings.options["region"],
        endpoint_url=settings.options.get("endpoint_url") or None,
        config=Config(
            retries={"mode": "standard", "max_attempts": 2},
            connect_timeout=min(5.0, settings.timeout_seconds),
            read_timeout=read_timeout,
            max_pool_connections=10,
        ),
        **credentials,
    )
