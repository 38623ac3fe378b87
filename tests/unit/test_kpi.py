"""KPI formulas on hand-computed slices."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ioc.db.rollups import difference
from ioc.domains import DOMAINS
from ioc.domains.base import StoredEvent, in_order
from ioc.domains.filings import fold
from ioc.kpi import documents, filings, security
from ioc.working_time import WorkingCalendar

CAL = WorkingCalendar.load()  # the shipped calendar: 24/11/2026 is a day off
VN = timezone(timedelta(hours=7))


def _measures(source: str, **values: int) -> Counter[str]:
    m: Counter[str] = Counter(dict.fromkeys(DOMAINS[source].rollup.measures, 0))
    m.update(values)
    return m


def test_766_on_time_rate_counts_open_filings_not_yet_due_as_in_time() -> None:
    # 10 received: 3 early, 2 on time, 1 late, 4 open of which 1 overdue.
    m = _measures("filings", received=10, early=3, on_time=2, late=1, open=4, overdue=1)
    assert filings.on_time_rate(m) == pytest.approx((3 + 2 + 3) / 10)


def test_shares_of_filings_and_an_empty_slice() -> None:
    m = _measures("filings", received=8, online=6, full_online=2, fee_bearing=4,
                  paid_online=1, digitised=2)  # fmt: skip
    assert filings.online_share(m) == 0.75  # 766 3.3
    assert filings.full_online_share(m) == 0.25
    assert filings.online_payment_share(m) == 0.25  # 766 3.6: of fee-bearing only
    assert filings.digitised_share(m) == 0.25  # 766 4.2
    empty = _measures("filings")
    assert filings.on_time_rate(empty) is None and filings.online_share(empty) is None


def test_mean_resolution_time_is_over_finished_filings_in_hours() -> None:
    m = _measures("filings", resolution_ms_sum=3 * 3_600_000 + 5 * 3_600_000, resolved_count=2)
    assert filings.mean_resolution_hours(m) == 4.0


def _vn(day: int, hour: float) -> datetime:
    """A moment of November 2026, Vietnam time (Fri 20, Mon 23, Tue 24 off, Wed 25)."""
    return datetime(2026, 11, day, tzinfo=VN) + timedelta(hours=hour)


def _life(filing_id: str, *steps: tuple[str, datetime]) -> Any:
    events = [
        StoredEvent(f"{filing_id}-{i}", kind, at, "000.00.31.H42",
                    {"filing_id": filing_id, "procedure_code": "P", "channel": "online"})
        for i, (kind, at) in enumerate(steps)
    ]  # fmt: skip
    return fold(filing_id, in_order(events), CAL)


# Hand-computed working time (07:00-11:30, 13:30-17:00):
WEEKEND = _life("F-1", ("received", _vn(20, 16.5)), ("resolved", _vn(23, 8)))
# Fri 16:30-17:00 + Mon 07:00-08:00 = 1.5 h (63.5 h on the wall)
HOLIDAY = _life("F-2", ("received", _vn(23, 16)), ("resolved", _vn(25, 8)))
# Mon 16:00-17:00 + Tue 24/11 off + Wed 07:00-08:00 = 2 h
PAUSED = _life(
    "F-3", ("received", _vn(23, 9)), ("supplement_requested", _vn(23, 10)),
    ("supplemented", _vn(25, 10)), ("resolved", _vn(25, 14.5)),
)  # fmt: skip
# Mon 09:00 to Wed 14:30 is 6 h + 0 + 5.5 h = 11.5 h; the wait, Mon 10:00 to Wed 10:00,
# 5 h + 0 + 3 h = 8 h: 3.5 h
OPEN = _life("F-4", ("received", _vn(20, 9)), ("supplement_requested", _vn(20, 10)))


def _summed(*states: Any) -> Counter[str]:
    rollup = DOMAINS["filings"].rollup
    total: Counter[str] = Counter(dict.fromkeys(rollup.measures, 0))
    for counts in difference(rollup, [], states).values():
        total.update(counts)
    return total


def test_each_filing_s_resolution_counts_working_time_only() -> None:
    assert WEEKEND.resolution_working_s == 1.5 * 3600 and WEEKEND.resolution_s == 63.5 * 3600
    assert HOLIDAY.resolution_working_s == 2 * 3600
    assert PAUSED.resolution_working_s == 3.5 * 3600 and PAUSED.resolution_s == 5.5 * 3600
    assert OPEN.resolution_working_s is None


@pytest.mark.parametrize(
    ("states", "days"),
    [
        ((WEEKEND,), 0.1875),  # 1.5 h of an 8-hour working day
        ((HOLIDAY,), 0.25),
        ((PAUSED,), 0.4375),
        ((WEEKEND, HOLIDAY, PAUSED, OPEN), (1.5 + 2 + 3.5) / 3 / 8),  # the open one: not
    ],
)
def test_mean_resolution_in_working_days_from_the_folds_through_the_rollup(
    states: tuple[Any, ...], days: float
) -> None:
    m = _summed(*states)
    assert filings.mean_resolution_working_days(m) == pytest.approx(days, abs=1e-12)
    assert filings.catalogue(m)["mean_resolution_working_days"] == pytest.approx(days)


def test_mean_resolution_in_working_days_of_measures_and_of_nothing() -> None:
    m = _measures("filings", resolution_working_ms_sum=12 * 3_600_000, resolved_count=3)
    assert filings.mean_resolution_working_days(m) == 0.5  # 4 working hours each
    assert filings.mean_resolution_working_days(_measures("filings")) is None
    assert filings.mean_resolution_working_days(_summed(OPEN)) is None


def test_document_shares_and_handling_time() -> None:
    m = _measures("documents", documents=20, electronic=18, signed=9, handling_ms_sum=7_200_000,
                  handled_count=4)  # fmt: skip
    assert documents.electronic_share(m) == 0.9
    assert documents.signed_share(m) == 0.45
    assert documents.mean_handling_hours(m) == 0.5


def test_mean_times_to_acknowledge_and_resolve() -> None:
    m = _measures("security", ack_ms_sum=600_000, ack_count=2, resolve_ms_sum=7_200_000,
                  resolve_count=3)  # fmt: skip
    assert security.mean_time_to_acknowledge_minutes(m) == 5.0
    assert security.mean_time_to_resolve_minutes(m) == 40.0
    assert security.mean_time_to_acknowledge_minutes(_measures("security")) is None


def test_every_catalogue_reads_only_measures_its_rollup_declares() -> None:
    from ioc.kpi.catalogue import CATALOGUES

    for source, catalogue in CATALOGUES.items():

        class Strict(dict):  # a KeyError for any measure the rollup does not have
            pass

        values = Strict(_measures(source))
        catalogue(values)
