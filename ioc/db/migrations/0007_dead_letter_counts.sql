-- Dead letters by source and reason, per minute, for the source-health KPIs: counted
-- by the processor from the dead-letter topic, each record once. Exactly once because
-- the counts and the next offset to count from move in one transaction: a record
-- read again (after a crash, a rebalance) is below the mark and not counted again.
CREATE TABLE dead_letter_counts (
    bucket   timestamptz NOT NULL,  -- the minute the record was dead-lettered (UTC)
    stage    text        NOT NULL,  -- ingest | processor
    source   text        NOT NULL,
    reason   text        NOT NULL,
    letters  bigint      NOT NULL,
    PRIMARY KEY (bucket, stage, source, reason)
);

CREATE TABLE dead_letter_progress (
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint  NOT NULL,
    PRIMARY KEY (topic, partition)
);
