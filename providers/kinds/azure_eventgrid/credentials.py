"""Event Grid credentials: an access key or a SAS token from the environment."""

from ...credentials import Credentials, env_value


def resolve_azure(prefix: str) -> Credentials:
    """An Event Grid access key, or a SAS token, from the environment."""
    key, sas = env_value(prefix, "EVENTGRID_ACCESS_KEY"), env_value(prefix, "EVENTGRID_SAS_TOKEN")
    if key:
        return Credentials(ok=True, source=f"access key from {prefix}EVENTGRID_ACCESS_KEY", secret={"key": key})
    if sas:
        return Credentials(ok=True, source=f"SAS token from {prefix}EVENTGRID_SAS_TOKEN", secret={"sas": sas})
    return Credentials(
        ok=False, source="none", problem=f"set {prefix}EVENTGRID_ACCESS_KEY or {prefix}EVENTGRID_SAS_TOKEN"
    )
