-- A filing's due date once the waits for the citizen have moved it, in working time
-- (ioc/domains/filings.py `moved_due`): what the verdict, "overdue" and "at risk" are
-- judged against. Before, the due date moved by the waits' wall time, so a wait over a
-- weekend gave two days of slack it should not. Every filing with a wait may change
-- verdict, so both tables are emptied: `ioc migrate` rebuilds them from the raw events
-- (ioc/db/migrate.py) with the configured working calendar.
ALTER TABLE filing_state ADD COLUMN effective_due_at timestamptz;
TRUNCATE filing_state, filing_day;
DELETE FROM current_totals WHERE source = 'filings';
