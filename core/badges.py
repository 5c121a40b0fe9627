"""Small HTML helpers shared by the console's admin pages."""

from django.utils.html import format_html
from django.utils.safestring import SafeString


def badge(value: str, label: str | None = None) -> SafeString:
    """A coloured status or mode badge; the CSS class comes from the value."""
    return format_html('<span class="helios-badge helios-badge--{}">{}</span>', value, label or value)
