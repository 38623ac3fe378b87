-- Where each poller (`ioc poll`) stands in its source system, keyed by the poller's
-- name: the cursor its next request sends. It moves only after the broker acknowledged
-- every record of the answer that gave it, so a restart resumes here and a crash re-reads
-- at most one answer (whose records the processor de-duplicates by event id).
CREATE TABLE poll_cursors (
    poller      text        PRIMARY KEY,
    cursor      text        NOT NULL,
    url         text        NOT NULL,  -- the endpoint it was read from, for the operator
    updated_at  timestamptz NOT NULL DEFAULT now()
);
