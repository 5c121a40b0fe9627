"""Event services: every write HELIOS makes about events, one module per job.

- validation: the input gate (strict JSON, envelope fields, template schemas)
- publishing: events and their deliveries, created in one transaction
- doorbell: the django-q2 task that says "send what is due for this provider"
- sending: claim, send through the provider's client, record (leases, fresh connections)
- outcomes: attempts and next statuses, with the engine's SQL
- sweeper: expired leases and due retries
- operator: retry now, resend
- bulk, receipts, reconcile, retention: bulk uploads, round-trip arrivals, reconciliation reports,
  the retention purge
"""
