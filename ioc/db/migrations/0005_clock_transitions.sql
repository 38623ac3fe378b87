-- When an entity first crossed a clock threshold (overdue, at risk, unattended), as the
-- processor's clock tick or a batch recorded it. One row per entity and kind: the first
-- crossing is the one an operator asks about ("since when is it overdue?").
CREATE TABLE clock_transitions (
    source       text        NOT NULL,
    entity_id    text        NOT NULL,
    kind         text        NOT NULL,
    crossed_at   timestamptz NOT NULL,
    PRIMARY KEY (source, entity_id, kind)
);
CREATE INDEX clock_transitions_recent ON clock_transitions (crossed_at);
