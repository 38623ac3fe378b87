"""Prometheus metrics of the ingest path."""

from __future__ import annotations

from prometheus_client import Counter

RECORDS = Counter(
    "ioc_ingest_records_total", "Ingest records by outcome", ["source", "format", "outcome"]
)
REQUESTS = Counter(
    "ioc_ingest_requests_total", "Ingest requests by HTTP status", ["source", "status"]
)
EVENTS = Counter(
    "ioc_ingest_events_total",
    "Canonical events produced by ingest (a record may map to several, or to none)",
    ["source", "format"],
)
SKIPPED = Counter(
    "ioc_ingest_skipped_records_total",
    "Valid records that map to no event on purpose (e.g. Suricata event types other "
    "than alert), by kind",
    ["source", "format", "kind"],
)
WARNINGS = Counter(
    "ioc_ingest_warnings_total",
    "Records for which ingest assumed something (e.g. a date without a time "
    "zone taken as Asia/Ho_Chi_Minh), by kind",
    ["source", "format", "kind"],
)
