"""Filing KPIs, numbered after the Decision 766/QĐ-TTg indicator set where one applies."""

from __future__ import annotations

from typing import Any

from ioc.kpi import MS_PER_HOUR, MS_PER_WORKING_DAY, Measures, mean, share


def online_share(m: Measures) -> float | None:
    """766 indicator 3.3: filings received online (KenhThucHien = 2) / filings received."""
    return share(m["online"], m["received"])


def full_online_share(m: Measures) -> float | None:
    """Filings of full-process online procedures (toàn trình) / filings received."""
    return share(m["full_online"], m["received"])


def on_time_rate(m: Measures) -> float | None:
    """766 indicator 2.1: (finished early or on time + open and not yet overdue) /
    filings received. Filings flagged `no_due_date` count in the denominator only: their
    verdict needs the procedure's legal processing time."""
    in_time = m["early"] + m["on_time"] + (m["open"] - m["overdue"])
    return share(in_time, m["received"])


def online_payment_share(m: Measures) -> float | None:
    """766 indicator 3.6: filings paid online / filings of fee-bearing procedures (fee > 0)."""
    return share(m["paid_online"], m["fee_bearing"])


def digitised_share(m: Measures) -> float | None:
    """766 indicator 4.2: filings with digitised components and result / filings received."""
    return share(m["digitised"], m["received"])


def mean_resolution_hours(m: Measures) -> float | None:
    """Mean time from receipt to the processing end, supplement waits excluded, in hours
    of wall time (nights, weekends and holidays included)."""
    return mean(m["resolution_ms_sum"], m["resolved_count"], MS_PER_HOUR)


def mean_resolution_working_days(m: Measures) -> float | None:
    """Mean resolution time in working days (Decision 766, group 2 "progress and result
    of resolution"; the processing time indicator 2.1 judges): from receipt to the
    processing end of each finished filing, the waits for the citizen's supplement
    taken out, counting working time only, in working days of 8 working hours. A filing
    received Friday 16:30 and finished Monday 08:00 took 1.5 h = 0.1875 working days.
    The fold counts each filing's working time in the configured calendar
    (`ioc.working_time`); the rollup sums it in milliseconds."""
    return mean(m["resolution_working_ms_sum"], m["resolved_count"], MS_PER_WORKING_DAY)


def catalogue(m: Measures) -> dict[str, Any]:
    """Every filing KPI for one slice."""
    return {
        "received": m["received"],
        "finished": m["finished"],
        "early": m["early"],
        "on_time": m["on_time"],
        "late": m["late"],
        "no_due_date": m["no_due_date"],
        "open": m["open"],
        "overdue": m["overdue"],
        "at_risk": m["at_risk"],
        "waiting_for_citizen": m["waiting"],
        "supplement_requests": m["supplement_requests"],
        "flagged": m["flagged"],
        "online_share": online_share(m),
        "full_online_share": full_online_share(m),
        "on_time_rate": on_time_rate(m),
        "online_payment_share": online_payment_share(m),
        "digitised_share": digitised_share(m),
        "mean_resolution_hours": mean_resolution_hours(m),
        "mean_resolution_working_days": mean_resolution_working_days(m),
    }
