"""The KPI catalogue: one module per domain, each formula in one place, pure.

Every formula takes the summed measures of a domain's rollup (see the `Rollup` of
`ioc/domains/*.py`) for whatever slice the caller chose - the province or one agency,
procedure or commune, a day, a month - and returns a number, or None where the
denominator is zero (a share of nothing is unknown, not 0 %). The readers in
`ioc/db/kpis.py` do the summing; nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Mapping

Measures = Mapping[str, int]


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to share (a rate of nothing is unknown)."""
    return part / whole if whole else None


def mean(total: int, count: int, unit: float = 1.0) -> float | None:
    """total / count in `unit`s (e.g. milliseconds to hours), None without any."""
    return total / count / unit if count else None


MS_PER_HOUR = 3_600_000
MS_PER_WORKING_DAY = 8 * MS_PER_HOUR
"""A working day of the KPIs: 8 working hours, the day of the deadline practice
(07:00-11:30 and 13:30-17:00, the shipped calendar's). A working-time file with other
hours changes what counts as working time, not this unit."""
