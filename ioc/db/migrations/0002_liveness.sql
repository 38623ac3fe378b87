-- When each source last stored a new event: the `as_of` of the KPIs is the newest of
-- these, the time of the newest stored data, not the time of the query.
ALTER TABLE event_totals ADD COLUMN last_stored_at timestamptz;
UPDATE event_totals t SET last_stored_at = e.newest
FROM (SELECT source, max(stored_at) AS newest FROM events GROUP BY source) e
WHERE t.source = e.source;

-- What each running processor says about itself, every few seconds, so that the API
-- can tell "quiet" from "stalled": its last committed batch, whether it is retrying a
-- batch and why, and its consumer lag per partition (topic/partition -> records).
CREATE TABLE processor_status (
    instance        text        PRIMARY KEY,
    host            text        NOT NULL,
    pid             integer     NOT NULL,
    consumer_group  text        NOT NULL,
    started_at      timestamptz NOT NULL,
    reported_at     timestamptz NOT NULL,
    last_commit_at  timestamptz,
    retrying_since  timestamptz,
    retry_reason    text,
    draining        boolean     NOT NULL DEFAULT false,
    lag             jsonb       NOT NULL DEFAULT '{}'
);
