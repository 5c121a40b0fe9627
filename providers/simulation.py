"""What a config in demo mode simulates, in words, wherever its health is shown (operations home,
dashboard, `providers list`, connection test): a demo config set to fail must say so, or an open
circuit and failed attempts look like a cloud's outage."""

from .models import ProviderConfig


def simulation_words(config: ProviderConfig) -> str:
    """ "demo: 100 % of sends fail on purpose, about 2,500 ms a call" ("" when the demo simulates
    neither failures nor latency)."""
    parts = []
    if config.demo_failure_rate > 0:
        parts.append(f"{config.demo_failure_rate:.0%} of sends fail on purpose".replace("%", " %"))
    if config.demo_latency_ms > 0:
        parts.append(f"about {config.demo_latency_ms:,} ms a call")
    return "demo: " + ", ".join(parts) if parts else ""


def fails_every_send(config: ProviderConfig) -> bool:
    """Demo mode is set to fail every send: nothing it is given is delivered."""
    return config.demo_failure_rate >= 1
