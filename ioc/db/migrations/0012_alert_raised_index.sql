-- The KPI answer's `top_assets` and the `new_alerts` of its minute and hour series read
-- the alerts raised in a period from alert_state (ioc/db/kpis.py): by raised_at, so the
-- read grows with the period asked for, not with the whole history.
CREATE INDEX alert_state_raised ON alert_state (raised_at);
