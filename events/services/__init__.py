"""Event services: every write HELIOS makes about events, one module per job.

- validation: the input gate (strict JSON, envelope fields, template schemas)
- publishing: one publish request from every way in, planned (routes, scope, production
  grant, the input gate), then its events and deliveries created in one transaction
- rows: many rows of one table in one statement (the hot paths)
- doorbell: the django-q2 task that says "send what is due for this provider"
- sending: claim, send through the provider's client, record (leases, fresh connections)
- spans: the spans of each provider call and of each batch of arrivals, joined to the events' traces
- outcomes: attempts and next statuses, with the engine's SQL
- sweeper: expired leases and due retries
- operator: retry now, resend
- resending: the primitives resend, replay, retry, healing and reconciliation share
- bulk: bulk uploads (files or a template)
- replay: a window of events sent again
- receipts, polling, demo_arrivals: the round trip's arrivals (push, pull, demo)
- reconcile, healing: reconciliation reports, and resending what never came back
- exports: history and findings as files
- retention: the retention purge
"""
