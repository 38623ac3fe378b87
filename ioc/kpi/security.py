"""Security KPIs: open alerts, times to acknowledge and to resolve."""

from __future__ import annotations

from typing import Any

from ioc.kpi import Measures, mean

MS_PER_MINUTE = 60_000


def mean_time_to_acknowledge_minutes(m: Measures) -> float | None:
    """MTTA: mean time from the first raise to the first acknowledgement, in minutes."""
    return mean(m["ack_ms_sum"], m["ack_count"], MS_PER_MINUTE)


def mean_time_to_resolve_minutes(m: Measures) -> float | None:
    """MTTR: mean time from the first raise to the resolution, in minutes."""
    return mean(m["resolve_ms_sum"], m["resolve_count"], MS_PER_MINUTE)


def catalogue(m: Measures) -> dict[str, Any]:
    return {
        "alerts": m["alerts"],
        "open": m["open"],
        "acknowledged": m["acknowledged"],
        "resolved": m["resolved"],
        "unattended": m["unattended"],
        "occurrences": m["occurrences"],
        "flagged": m["flagged"],
        "mean_time_to_acknowledge_minutes": mean_time_to_acknowledge_minutes(m),
        "mean_time_to_resolve_minutes": mean_time_to_resolve_minutes(m),
    }
