"""AWS credentials: keys or a profile under the config's prefix, else boto3's default chain."""

from typing import Any

from ...credentials import Credentials, env_value


def resolve_aws(prefix: str) -> Credentials:
    """Keys or a profile under the prefix, else boto3's default chain (env, files, SSO, roles)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    if prefix:
        key_id, secret = env_value(prefix, "AWS_ACCESS_KEY_ID"), env_value(prefix, "AWS_SECRET_ACCESS_KEY")
        if key_id and secret:
            return Credentials(
                ok=True,
                source=f"access key from {prefix}AWS_ACCESS_KEY_ID / {prefix}AWS_SECRET_ACCESS_KEY",
                secret={
                    "aws_access_key_id": key_id,
                    "aws_secret_access_key": secret,
                    "aws_session_token": env_value(prefix, "AWS_SESSION_TOKEN") or None,
                },
            )
        profile = env_value(prefix, "AWS_PROFILE")
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
