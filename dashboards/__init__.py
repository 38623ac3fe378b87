"""Grafana dashboards as code (grafana-foundation-sdk), built to JSON and pushed with
grafana-client. The tables they read are `event_counts_minute`, `event_totals`,
`filing_state` and `alert_state` (see ioc/db/migrations); queries must run on plain
PostgreSQL and on TimescaleDB alike."""
