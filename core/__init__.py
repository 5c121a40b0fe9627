"""The shared layer every other HELIOS package may use, and that uses none of them.

- models, audit, readonly: the audit trail and process heartbeats (heartbeat)
- strictjson, identifiers: parsing what comes in (event data, cloud bodies, ids)
- redaction, logs, gunicorn_logging: secrets out of every log line; structured logs
- tracing, instrumentations: OpenTelemetry traces, configured by the OTEL_* environment (off
  when unset), and the official Django, psycopg and botocore instrumentations while on
- roles, permissions, user_admin, admin, admin_pages, badges: the console's roles, refusals,
  Users page and shared page helpers
- client_address: the client's address behind proxies
- brokers, worker_state, lifeline: what a supervised django-q2 cluster needs (helios_site's
  worker supervisor reads them)
"""
