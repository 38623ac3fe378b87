-- Entity state as a fold of each entity's whole history. The columns are declared by
-- the state dataclasses in ioc/domains/*.py; tests/unit/test_domains.py checks that
-- these tables match them. `ioc migrate` refolds every entity from the raw events
-- into a state table it finds empty, so no history is lost by the change of shape.
DROP TABLE filing_state;
DROP TABLE alert_state;

CREATE TABLE filing_state (
    filing_id               text PRIMARY KEY,
    agency                  text NOT NULL,
    procedure_code          text,
    commune_code            text,
    channel                 text,
    full_online             boolean,
    fee_vnd                 bigint,
    paid_online             boolean,
    digitised               boolean,
    received_at             timestamptz,
    due_at                  timestamptz,
    status                  text NOT NULL,
    is_open                 boolean NOT NULL,
    supplement_requests     bigint NOT NULL,
    supplement_open_since   timestamptz,
    supplement_paused_s     double precision NOT NULL,
    processing_end_at       timestamptz,
    verdict                 text NOT NULL,
    resolution_s            double precision,
    overdue                 boolean NOT NULL,
    at_risk                 boolean NOT NULL,
    events                  bigint NOT NULL,
    first_event_at          timestamptz NOT NULL,
    last_event_at           timestamptz NOT NULL,
    last_event_id           text NOT NULL,
    flags                   text[] NOT NULL
);
CREATE INDEX filing_state_open_due ON filing_state (due_at) WHERE is_open;
CREATE INDEX filing_state_agency ON filing_state (agency, is_open);
CREATE INDEX filing_state_flagged ON filing_state (filing_id) WHERE cardinality(flags) > 0;

CREATE TABLE document_state (
    document_id             text PRIMARY KEY,
    agency                  text NOT NULL,
    direction               text,
    electronic              boolean,
    signed                  boolean,
    sender_agency           text,
    receiver_agency         text,
    document_type           text,
    issued_at               timestamptz,
    sent_at                 timestamptz,
    received_at             timestamptz,
    assigned_at             timestamptz,
    done_at                 timestamptz,
    returned_at             timestamptz,
    due_at                  timestamptz,
    status                  text NOT NULL,
    is_open                 boolean NOT NULL,
    handling_s              double precision,
    overdue                 boolean NOT NULL,
    events                  bigint NOT NULL,
    first_event_at          timestamptz NOT NULL,
    last_event_at           timestamptz NOT NULL,
    last_event_id           text NOT NULL,
    flags                   text[] NOT NULL
);
CREATE INDEX document_state_open_due ON document_state (due_at) WHERE is_open;
CREATE INDEX document_state_flagged ON document_state (document_id) WHERE cardinality(flags) > 0;

CREATE TABLE alert_state (
    alert_id                text PRIMARY KEY,
    agency                  text NOT NULL,
    severity                text,
    category                text,
    asset                   text,
    signature               text,
    src_ip                  text,
    dest_ip                 text,
    raised_at               timestamptz,
    acknowledged_at         timestamptz,
    acknowledged_by         text,
    resolved_at             timestamptz,
    status                  text NOT NULL,
    is_open                 boolean NOT NULL,
    occurrences             bigint NOT NULL,
    ack_s                   double precision,
    resolve_s               double precision,
    unattended              boolean NOT NULL,
    events                  bigint NOT NULL,
    first_event_at          timestamptz NOT NULL,
    last_event_at           timestamptz NOT NULL,
    last_event_id           text NOT NULL,
    flags                   text[] NOT NULL
);
CREATE INDEX alert_state_open ON alert_state (severity) WHERE is_open;
CREATE INDEX alert_state_flagged ON alert_state (alert_id) WHERE cardinality(flags) > 0;
