"""The webhook's signing secret, from the environment: `<prefix>WEBHOOK_SECRET`, a Standard Webhooks
secret (`whsec_` and base64), never stored in the database."""

from ...credentials import Credentials, env_value

SECRET_VARIABLE = "WEBHOOK_SECRET"


def resolve_secret(prefix: str) -> Credentials:
    """The signing secret under the prefix, checked to be a usable Standard Webhooks secret."""
    from standardwebhooks.webhooks import Webhook

    name = f"{prefix}{SECRET_VARIABLE}"
    secret = env_value(prefix, SECRET_VARIABLE)
    if not secret:
        return Credentials(ok=False, source="none", problem=f"set {name} (a Standard Webhooks secret: whsec_…)")
    try:
        Webhook(secret)
    except Exception:
        return Credentials(
            ok=False, source=name, problem=f"{name} is not a Standard Webhooks secret (whsec_ and base64)"
        )
    return Credentials(ok=True, source=f"signing secret from {name}", secret={"secret": secret})
