"""The console's event pages, one module per area; importing them registers them.

- events: the event history, the live event page, resend (the dashboard is the site's:
  helios_site.admin_site)
- compose: compose and its live check
- deliveries: the delivery history, attempts, retry now, exports
- event_templates: saved event types
- bulk: bulk send and its progress page
- roundtrip: receipts and reconciliation reports
- routes: routes and the "test routes" page
- replays: replay a window of events, its progress and cancel
"""

from . import bulk, deliveries, event_templates, events, replays, roundtrip, routes  # noqa: F401
