-- Rollups: sums per day (Vietnam time) and dimensions, moved in the batch transaction
-- by taking each touched entity's old contribution out and putting its new one in
-- (ioc/db/rollups.py), so they always equal a full recount. Whole numbers only
-- (durations in milliseconds), so that out-and-in is exact. The columns are declared
-- by the Rollup of each domain (ioc/domains/*.py); tests/unit/test_domains.py checks
-- that these tables match them. `ioc migrate` fills a rollup it finds empty.

CREATE TABLE filing_day (
    day                     date NOT NULL,
    agency                  text NOT NULL,
    procedure_code          text NOT NULL,
    commune_code            text NOT NULL,
    channel                 text NOT NULL,
    received                bigint NOT NULL DEFAULT 0,
    online                  bigint NOT NULL DEFAULT 0,
    full_online             bigint NOT NULL DEFAULT 0,
    fee_bearing             bigint NOT NULL DEFAULT 0,
    paid_online             bigint NOT NULL DEFAULT 0,
    digitised               bigint NOT NULL DEFAULT 0,
    finished                bigint NOT NULL DEFAULT 0,
    early                   bigint NOT NULL DEFAULT 0,
    on_time                 bigint NOT NULL DEFAULT 0,
    late                    bigint NOT NULL DEFAULT 0,
    no_due_date             bigint NOT NULL DEFAULT 0,
    open                    bigint NOT NULL DEFAULT 0,
    waiting                 bigint NOT NULL DEFAULT 0,
    overdue                 bigint NOT NULL DEFAULT 0,
    at_risk                 bigint NOT NULL DEFAULT 0,
    supplement_requests     bigint NOT NULL DEFAULT 0,
    resolution_ms_sum       bigint NOT NULL DEFAULT 0,
    resolved_count          bigint NOT NULL DEFAULT 0,
    flagged                 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, agency, procedure_code, commune_code, channel)
);

CREATE TABLE document_day (
    day                     date NOT NULL,
    agency                  text NOT NULL,
    direction               text NOT NULL,
    documents               bigint NOT NULL DEFAULT 0,
    received                bigint NOT NULL DEFAULT 0,
    sent                    bigint NOT NULL DEFAULT 0,
    electronic              bigint NOT NULL DEFAULT 0,
    signed                  bigint NOT NULL DEFAULT 0,
    done                    bigint NOT NULL DEFAULT 0,
    failed                  bigint NOT NULL DEFAULT 0,
    open                    bigint NOT NULL DEFAULT 0,
    overdue                 bigint NOT NULL DEFAULT 0,
    handling_ms_sum         bigint NOT NULL DEFAULT 0,
    handled_count           bigint NOT NULL DEFAULT 0,
    flagged                 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, agency, direction)
);

CREATE TABLE alert_day (
    day                     date NOT NULL,
    agency                  text NOT NULL,
    severity                text NOT NULL,
    category                text NOT NULL,
    alerts                  bigint NOT NULL DEFAULT 0,
    open                    bigint NOT NULL DEFAULT 0,
    acknowledged            bigint NOT NULL DEFAULT 0,
    resolved                bigint NOT NULL DEFAULT 0,
    unattended              bigint NOT NULL DEFAULT 0,
    occurrences             bigint NOT NULL DEFAULT 0,
    ack_ms_sum              bigint NOT NULL DEFAULT 0,
    ack_count               bigint NOT NULL DEFAULT 0,
    resolve_ms_sum          bigint NOT NULL DEFAULT 0,
    resolve_count           bigint NOT NULL DEFAULT 0,
    flagged                 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, agency, severity, category)
);

-- Measures of the present (open, overdue now...) summed over all days, per source,
-- agency, value of the domain's current dimension ('' when it has none) and measure:
-- what the wall screen shows, readable without a scan that grows with the days.
CREATE TABLE current_totals (
    source   text   NOT NULL,
    agency   text   NOT NULL,
    dim      text   NOT NULL,
    measure  text   NOT NULL,
    value    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (source, agency, dim, measure)
);
