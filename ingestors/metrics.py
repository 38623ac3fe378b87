"""Prometheus metrics of the ingest path."""

from __future__ import annotations

from prometheus_client import Counter

RECORDS = Counter(
    "ioc_ingest_records_total", "Ingest records by outcome", ["source", "format", "outcome"]
)
REQUESTS = Counter(
    "ioc_ingest_requests_total", "Ingest requests by HTTP status", ["source", "status"]
)
