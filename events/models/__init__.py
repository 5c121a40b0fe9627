"""The events app's models, one module per part of an event's life: what is published
(publishing), its deliveries and attempts (delivery), what came back (round_trip), and what was
sent again on purpose (resends). Everything is importable from `events.models`."""

from .delivery import (
    DUE_STATUSES,
    FINAL_STATUSES,
    OPEN_STATUSES,
    RETRYABLE_BY_OPERATOR,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    HourlyStats,
)
from .publishing import BulkSource, BulkUpload, Event, EventTemplate, Route, validate_json_schema
from .resends import Replay, ReplayState, Resend
from .round_trip import DemoArrival, Receipt, ReconciliationItem, ReconciliationKind, ReconciliationReport

__all__ = [
    "DUE_STATUSES",
    "FINAL_STATUSES",
    "OPEN_STATUSES",
    "RETRYABLE_BY_OPERATOR",
    "AttemptOutcome",
    "BulkSource",
    "BulkUpload",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "DemoArrival",
    "Event",
    "EventTemplate",
    "HourlyStats",
    "Receipt",
    "ReconciliationItem",
    "ReconciliationKind",
    "ReconciliationReport",
    "Replay",
    "ReplayState",
    "Resend",
    "Route",
    "validate_json_schema",
]
