"""KPI math as pure functions over events: no I/O, unit-tested without services."""
