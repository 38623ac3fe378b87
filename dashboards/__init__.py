"""Grafana dashboards as code: the place for dashboards built with grafana-foundation-sdk
and pushed with grafana-client (`ioc dashboards build|push`, not built yet). They will read
`event_counts_minute`, `event_totals`, `filing_state` and `alert_state` (see
ioc/db/migrations), with queries that run on plain PostgreSQL and TimescaleDB alike."""
