"""Document-flow KPIs (Resolution 17/NQ-CP targets: electronic and signed shares)."""

from __future__ import annotations

from typing import Any

from ioc.kpi import MS_PER_HOUR, Measures, mean, share


def electronic_share(m: Measures) -> float | None:
    """Documents exchanged electronically / documents."""
    return share(m["electronic"], m["documents"])


def signed_share(m: Measures) -> float | None:
    """Documents digitally signed / documents (target: province ≥ 90 %, commune ≥ 60 %)."""
    return share(m["signed"], m["documents"])


def mean_handling_hours(m: Measures) -> float | None:
    """Mean time from receipt to done, in hours of wall time."""
    return mean(m["handling_ms_sum"], m["handled_count"], MS_PER_HOUR)


def catalogue(m: Measures) -> dict[str, Any]:
    return {
        "documents": m["documents"],
        "received": m["received"],
        "sent": m["sent"],
        "done": m["done"],
        "open": m["open"],
        "overdue": m["overdue"],
        "exchange_failures": m["failed"],
        "flagged": m["flagged"],
        "electronic_share": electronic_share(m),
        "signed_share": signed_share(m),
        "mean_handling_hours": mean_handling_hours(m),
    }
