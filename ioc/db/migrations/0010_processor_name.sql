-- Which processor a report is from, by name (IOC_PROCESSOR_NAME): `ioc up` runs
-- process-1 … process-N, and the health check follows each of them across restarts
-- (a restart is a new instance, under the same name). Empty for a processor run
-- without a name.
ALTER TABLE processor_status ADD COLUMN name text NOT NULL DEFAULT '';
