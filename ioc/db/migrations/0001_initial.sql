-- Raw events, exactly once: the primary key is what makes redelivery harmless.
-- (On TimescaleDB the raw table becomes a hypertable in a later migration; the
-- de-duplication key then moves to a plain table beside it.)
CREATE TABLE events (
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    entity_id    text        NOT NULL,
    agency       text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    ingested_at  timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    payload      jsonb       NOT NULL,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX events_occurred_at ON events (occurred_at);
CREATE INDEX events_entity ON events (source, entity_id, occurred_at);

-- Distinct events stored, per source; moved only by rows that were new.
CREATE TABLE event_totals (
    source  text   PRIMARY KEY,
    events  bigint NOT NULL DEFAULT 0
);
INSERT INTO event_totals (source) VALUES ('documents'), ('filings'), ('security');

-- Events per source, type and agency per minute of occurrence (UTC).
CREATE TABLE event_counts_minute (
    bucket      timestamptz NOT NULL,
    source      text        NOT NULL,
    event_type  text        NOT NULL,
    agency      text        NOT NULL,
    events      bigint      NOT NULL,
    PRIMARY KEY (bucket, source, event_type, agency)
);

-- Current state of each filing: the latest event wins (by occurrence, then event id).
CREATE TABLE filing_state (
    filing_id       text        PRIMARY KEY,
    agency          text        NOT NULL,
    procedure_code  text        NOT NULL,
    channel         text        NOT NULL,
    status          text        NOT NULL,
    is_open         boolean     NOT NULL,
    due_at          timestamptz,
    last_event_at   timestamptz NOT NULL,
    last_event_id   text        NOT NULL
);
CREATE INDEX filing_state_open ON filing_state (agency) WHERE is_open;

-- Current state of each security alert.
CREATE TABLE alert_state (
    alert_id        text        PRIMARY KEY,
    agency          text        NOT NULL,
    severity        text        NOT NULL,
    category        text        NOT NULL,
    asset           text,
    signature       text,
    status          text        NOT NULL,
    is_open         boolean     NOT NULL,
    last_event_at   timestamptz NOT NULL,
    last_event_id   text        NOT NULL
);
CREATE INDEX alert_state_open ON alert_state (severity) WHERE is_open;
