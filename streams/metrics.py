"""Prometheus metrics of the processor, and the tiny server that exposes them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

EVENTS_STORED = Counter(
    "ioc_processor_events_stored_total", "Distinct events stored (new rows)", ["source"]
)
DUPLICATES = Counter(
    "ioc_processor_duplicates_total", "Redelivered or re-sent events recognised and skipped"
)
DEAD_LETTERED = Counter(
    "ioc_processor_dead_lettered_total",
    "Records sent to the dead-letter topic",
    ["source", "reason"],
)
WRITE_RETRIES = Counter(
    "ioc_processor_write_retries_total", "Batch writes retried after a database error"
)
BATCH_SECONDS = Histogram(
    "ioc_processor_batch_seconds",
    "Time to decode, store and announce one micro-batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PHASE_SECONDS = Counter(
    "ioc_processor_phase_seconds",
    "Wall time of the processor loop by phase: idle (waiting in getmany), decode, write "
    "(the batch's transaction: SQL, refold, rollups), dead_letter, announce, commit",
    ["phase"],
)
WRITE_STEP_SECONDS = Counter(
    "ioc_processor_write_step_seconds",
    "Wall time inside a batch's write by step: stage (COPY to the staging table), insert "
    "(new rows into events), counts (totals, per minute), refold (history, fold, state "
    "upsert, rollups, clock transitions), commit (the transaction's COMMIT)",
    ["step"],
)
BATCH_SIZE = Histogram(
    "ioc_processor_batch_records",
    "Records per micro-batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
)


def serve(port: int) -> None:
    """Expose /metrics on `port` (0 = do not)."""
    if port:
        start_http_server(port, addr="127.0.0.1")


LAG = Gauge(
    "ioc_processor_lag_records",
    "Records on the broker not yet stored (end offset minus committed offset)",
    ["topic", "partition"],
)
LAST_COMMIT = Gauge(
    "ioc_processor_last_commit_timestamp_seconds",
    "When this processor last committed a batch (Unix time)",
)
RETRYING = Gauge(
    "ioc_processor_retrying", "1 while this processor is retrying a batch it could not write"
)
CLOCK_TRANSITIONS = Counter(
    "ioc_processor_clock_transitions_total",
    "Entities the clock tick turned overdue, at risk or unattended",
    ["source", "kind"],
)
FLAGGED = Counter(
    "ioc_processor_flagged_entities_total",
    "Entities whose history was newly flagged as odd (no receipt, due before receipt...)",
    ["source", "flag"],
)
