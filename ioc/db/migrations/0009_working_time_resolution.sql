-- A finished filing's resolution time in working time (receipt to the processing end,
-- the waits for the citizen taken out, only the working hours of working days
-- counted), beside the wall-time one, and its sum in the filing rollup, for the KPI
-- `mean_resolution_working_days` (ioc/domains/filings.py, ioc/kpi/filings.py).
-- Every finished filing needs folding again with the working calendar to get it, so
-- both tables are emptied here: `ioc migrate` then rebuilds them from the raw events
-- (ioc/db/migrate.py), counting in the calendar IOC_WORKING_TIME_FILE names.
ALTER TABLE filing_state ADD COLUMN resolution_working_s double precision;
ALTER TABLE filing_day ADD COLUMN resolution_working_ms_sum bigint NOT NULL DEFAULT 0;
TRUNCATE filing_state, filing_day;
DELETE FROM current_totals WHERE source = 'filings';
