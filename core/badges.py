"""Small helpers for the console's words and marks: badges, plurals, clipped text, copyable ids, times."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


def plural(count: int, noun: str, nouns: str = "") -> str:
    """ "1 provider", "3 providers" ("1 delivery", "2 deliveries" with the plural given)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def badge(value: str, label: str | None = None) -> SafeString:
    """A coloured status or mode badge; the CSS class comes from the value."""
    return format_html('<span class="helios-badge helios-badge--{}">{}</span>', value, label or value)


def clipped(text: str, limit: int = 60) -> SafeString:
    """Text cut to `limit` characters for a list; the whole text on hover."""
    if len(text) <= limit:
        return format_html("{}", text)
    return format_html('<span title="{}">{}…</span>', text, text[: limit - 1])


def copyable(shown: str, full: str, url: str = "") -> SafeString:
    """A (short) id, linked when `url` is given, with a button that copies the full id."""
    label = format_html('<a href="{}">{}</a>', url, shown) if url else format_html("{}", shown)
    return format_html(
        '<span class="helios-id" title="{}">{}<button type="button" class="helios-copy" data-copy="{}" '
        'aria-label="Copy {}" title="Copy the full id">{}</button></span>',
        full,
        label,
        full,
        full,
        COPY_ICON,
    )


#: Two overlapping sheets (an inline SVG: no font needs the glyph).
COPY_ICON = mark_safe(
    '<svg width="11" height="11" viewBox="0 0 16 16" aria-hidden="true" focusable="false">'
    '<rect x="5" y="5" width="9" height="10" rx="1" fill="none" stroke="currentColor" stroke-width="1.6"/>'
    '<path d="M3 11V2.5C3 1.7 3.7 1 4.5 1H11" fill="none" stroke="currentColor" stroke-width="1.6"/></svg>'
)


def moment(at: datetime | None) -> SafeString:
    """A timestamp to the second (UTC) with how long ago it was underneath."""
    if at is None:
        return format_html("{}", "—")
    seconds = max(int((timezone.now() - at).total_seconds()), 0)
    if seconds < 60:
        ago = f"{seconds} s ago"
    elif seconds < 3600:
        ago = f"{seconds // 60} min ago"
    elif seconds < 86400:
        ago = f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    else:
        ago = f"{seconds // 86400} d ago"
    return format_html(
        '<span title="{}">{}</span><div class="helios-note">{} · {}</div>',
        f"{at:%Y-%m-%d %H:%M:%S} UTC",
        f"{at:%H:%M:%S}",
        f"{at:%Y-%m-%d}",
        ago,
    )


def trace_link(traceparent: str) -> str | SafeString:
    """The trace a W3C `traceparent` names, linked to the tracing UI when HELIOS_TRACE_URL names
    one ({trace_id}, and {span_id} for the span itself); "-" when nothing was traced."""
    trace_id, span_id = traceparent[3:35], traceparent[36:52]
    if not trace_id:
        return "-"
    if not settings.HELIOS_TRACE_URL:
        return trace_id
    url = settings.HELIOS_TRACE_URL.replace("{trace_id}", trace_id).replace("{span_id}", span_id)
    return format_html('<a href="{}">{}</a>', url, trace_id)
