"""Working time: hand-computed deadlines around weekends, lunch, after-hours filings,
Tết and the 2026 holidays, YAML overrides, and the properties deadlines rely on
(round trip, monotonic, additive)."""

from __future__ import annotations

import time as wall
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import holidays
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ioc.working_time import WorkingCalendar, working_days

VN = timezone(timedelta(hours=7))
H = timedelta(hours=1)
CAL = WorkingCalendar.load()


def vn(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN)


def add(start: datetime, duration: timedelta) -> datetime:
    return CAL.add_working_time(start, duration)


def between(start: datetime, end: datetime) -> timedelta:
    return CAL.working_time_between(start, end)


# --- hand-computed cases -------------------------------------------------------------


def test_the_default_day_is_8_hours_and_working_days_scale_it() -> None:
    assert CAL.day_length == 8 * H
    assert working_days(1) == CAL.working_days(1) == 8 * H
    assert CAL.working_days(2.5) == 20 * H


def test_friday_16_00_plus_2_working_hours_is_monday_08_00() -> None:
    due = add(vn(2026, 11, 13, 16), 2 * H)  # Friday
    assert due == vn(2026, 11, 16, 8)
    assert due.tzinfo is UTC and due == datetime(2026, 11, 16, 1, tzinfo=UTC)
    assert between(vn(2026, 11, 13, 16), due) == 2 * H


def test_a_day_of_work_ends_at_17_00_not_next_morning() -> None:
    assert add(vn(2026, 11, 13, 15), 2 * H) == vn(2026, 11, 13, 17)
    assert add(vn(2026, 11, 10, 7), CAL.working_days(1)) == vn(2026, 11, 10, 17)


def test_a_filing_received_on_saturday_starts_monday_morning() -> None:
    saturday = vn(2026, 11, 14, 10)
    assert add(saturday, timedelta(0)) == vn(2026, 11, 16, 7)
    assert add(saturday, H) == vn(2026, 11, 16, 8)
    assert add(saturday, CAL.working_days(1)) == vn(2026, 11, 16, 17)
    assert between(saturday, vn(2026, 11, 16, 8)) == H
    assert between(saturday, vn(2026, 11, 15, 23)) == timedelta(0)


def test_a_filing_received_after_17_00_starts_next_morning() -> None:
    evening = vn(2026, 11, 11, 18, 30)  # Wednesday
    assert add(evening, timedelta(0)) == vn(2026, 11, 12, 7)
    assert add(evening, CAL.working_days(1)) == vn(2026, 11, 12, 17)
    assert add(vn(2026, 11, 11, 17), 30 * timedelta(minutes=1)) == vn(2026, 11, 12, 7, 30)


def test_the_lunch_break_does_not_count() -> None:
    assert add(vn(2026, 11, 10, 11), H) == vn(2026, 11, 10, 14)
    assert between(vn(2026, 11, 10, 11), vn(2026, 11, 10, 14)) == H
    assert between(vn(2026, 11, 10, 11, 30), vn(2026, 11, 10, 13, 30)) == timedelta(0)
    assert add(vn(2026, 11, 10, 12), timedelta(0)) == vn(2026, 11, 10, 13, 30)
    assert add(vn(2026, 11, 10, 7), 4.5 * H) == vn(2026, 11, 10, 11, 30)


def test_negative_durations_go_back_to_a_period_start() -> None:
    assert add(vn(2026, 11, 16, 8), -H) == vn(2026, 11, 16, 7)
    assert add(vn(2026, 11, 16, 8), -2 * H) == vn(2026, 11, 13, 16)
    assert add(vn(2026, 11, 10, 14), -H) == vn(2026, 11, 10, 11)


def test_between_is_negative_when_the_end_comes_first() -> None:
    assert between(vn(2026, 11, 16, 8), vn(2026, 11, 13, 16)) == -2 * H


def test_time_left_is_negative_once_overdue() -> None:
    due = vn(2026, 11, 13, 17)  # Friday
    assert CAL.working_time_left(vn(2026, 11, 13, 9), due) == 6 * H  # 2.5 h + 3.5 h
    assert CAL.working_time_left(vn(2026, 11, 14, 9), due) == timedelta(0)  # weekend
    assert CAL.working_time_left(vn(2026, 11, 16, 9), due) == -2 * H


def test_the_appointment_is_close_of_business_n_working_days_after_the_day_counted_in() -> None:
    assert CAL.end_of_working_day(vn(2026, 11, 16, 9)) == vn(2026, 11, 16, 17)
    assert CAL.end_of_working_day(vn(2026, 11, 16, 9), 1) == vn(2026, 11, 17, 17)
    assert CAL.end_of_working_day(vn(2026, 11, 16, 6), 1) == vn(2026, 11, 17, 17)
    assert CAL.end_of_working_day(vn(2026, 11, 13, 17), 0) == vn(2026, 11, 16, 17)  # Friday
    assert CAL.end_of_working_day(vn(2026, 11, 14, 10), 2) == vn(2026, 11, 18, 17)  # Saturday
    assert CAL.end_of_working_day(vn(2026, 2, 13, 10), 1) == vn(2026, 2, 23, 17)  # Tết
    assert CAL.end_of_working_day(vn(2026, 11, 18, 10), 15) == vn(2026, 12, 10, 17)  # 24/11
    with pytest.raises(ValueError, match=">= 0"):
        CAL.end_of_working_day(vn(2026, 11, 16, 9), -1)


def test_it_is_the_calendar_the_clock_asks() -> None:
    from ioc.clock import Calendar, Clock

    calendar: Calendar = CAL
    clock = Clock(now=vn(2026, 11, 13, 16), calendar=calendar)
    assert clock.at_risk_horizon == vn(2026, 11, 16, 16)  # 1 h + 4.5 h + 2.5 h


def test_any_timezone_in_utc_out() -> None:
    start = datetime(2026, 11, 13, 9, tzinfo=UTC)  # Friday 16:00 in Vietnam
    assert add(start, 2 * H) == datetime(2026, 11, 16, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        add(datetime(2026, 11, 13, 16), H)
    with pytest.raises(ValueError, match="timezone-aware"):
        between(datetime(2026, 11, 13, 16), vn(2026, 11, 13, 17))


def test_tet_2026_is_monday_16_to_friday_20_february() -> None:
    assert holidays.country_holidays("VN", years=2026).get(date(2026, 2, 17)) is not None
    assert [d for d in CAL.days_off(2026) if d.month == 2] == [
        date(2026, 2, d) for d in range(16, 21)
    ]
    assert CAL.is_working_day(date(2026, 2, 13)) and CAL.is_working_day(date(2026, 2, 23))
    assert add(vn(2026, 2, 13, 16), 2 * H) == vn(2026, 2, 23, 8)


def test_working_time_across_the_tet_week() -> None:
    # Mon 9 to Fri 13 Feb are worked, 16-20 Feb are Tết, Mon 23 is worked again.
    assert between(vn(2026, 2, 9, 7), vn(2026, 2, 23, 7)) == 40 * H
    assert between(vn(2026, 2, 13, 9), vn(2026, 2, 23, 9)) == 8 * H
    assert add(vn(2026, 2, 9, 7), CAL.working_days(10)) == vn(2026, 2, 27, 17)  # 9-13, 23-27


def test_hung_kings_30_4_and_1_5_in_2026() -> None:
    # Hùng Kings' day is Sunday 26/4: Monday 27/4 off; 30/4 and 1/5 are Thu and Fri.
    for day in (date(2026, 4, 27), date(2026, 4, 30), date(2026, 5, 1)):
        assert not CAL.is_working_day(day), day
    assert CAL.is_working_day(date(2026, 4, 28)) and CAL.is_working_day(date(2026, 4, 29))
    assert add(vn(2026, 4, 24, 16), 2 * H) == vn(2026, 4, 28, 8)
    assert add(vn(2026, 4, 29, 16), 2 * H) == vn(2026, 5, 4, 8)
    assert between(vn(2026, 4, 24, 7), vn(2026, 5, 4, 7)) == 3 * CAL.working_days(1)


def test_national_day_2026_is_five_days_from_29_august() -> None:
    for day in (date(2026, 8, 31), date(2026, 9, 1), date(2026, 9, 2)):
        assert not CAL.is_working_day(day), day
    assert add(vn(2026, 8, 28, 16), 2 * H) == vn(2026, 9, 3, 8)


def test_new_year_labour_day_and_national_day_fall_where_the_law_says() -> None:
    for year in range(2024, 2031):
        for month, day in ((1, 1), (4, 30), (5, 1), (9, 2)):
            assert not CAL.is_working_day(date(year, month, day)), (year, month, day)


def test_lunar_holidays_follow_the_vietnamese_calendar_not_the_chinese_one() -> None:
    # Where UTC+7 and UTC+8 disagree on the new moon: Tết 2030 is 2 Feb in Vietnam
    # (3 Feb in China); Hùng Kings' day 2037 is Friday 24 Apr (Saturday 25 in China).
    assert holidays.country_holidays("VN", years=2030).get(date(2030, 2, 2)) is not None
    assert not CAL.is_working_day(date(2037, 4, 24))
    assert CAL.is_working_day(date(2037, 4, 27))


def test_a_yaml_override_adds_a_day_off_and_makes_a_saturday_a_working_day(
    tmp_path: Path,
) -> None:
    path = tmp_path / "working_time.yaml"
    path.write_text(
        "utc_offset: '+07:00'\n"
        "hours: ['07:00-11:30', '13:30-17:00']\n"
        "weekend: [saturday, sunday]\n"
        "holidays: VN\n"
        "years:\n"
        "  2027:\n"
        "    days_off: [2027-03-12]\n"  # a Friday
        "    working_days: [2027-03-20]\n"  # a Saturday
        "    not_days_off: [2027-11-24]\n",
        encoding="utf-8",
    )
    cal = WorkingCalendar.load(path)
    assert not cal.is_working_day(date(2027, 3, 12))
    assert cal.is_working_day(date(2027, 3, 20))
    assert cal.is_working_day(date(2027, 11, 24))
    assert CAL.is_working_day(date(2027, 3, 12))  # the default is unchanged
    thursday = datetime(2027, 3, 11, 16, tzinfo=VN)
    assert cal.add_working_time(thursday, 2 * H) == datetime(2027, 3, 15, 8, tzinfo=VN)
    friday = datetime(2027, 3, 19, 16, tzinfo=VN)
    assert cal.add_working_time(friday, 2 * H) == datetime(2027, 3, 20, 8, tzinfo=VN)
    assert cal.working_time_between(friday, datetime(2027, 3, 22, 7, tzinfo=VN)) == 9 * H


def test_the_package_swapped_saturday_is_worked() -> None:
    # `holidays` moves 2026's working Monday 31/8 to Saturday 22/8.
    assert CAL.is_working_day(date(2026, 8, 22))


def test_custom_hours_weekend_and_no_holidays() -> None:
    cal = WorkingCalendar.from_mapping(
        {"hours": ["08:00-12:00"], "weekend": ["sunday"], "holidays": None}
    )
    assert cal.day_length == 4 * H
    assert cal.is_working_day(date(2026, 2, 17)) and cal.is_working_day(date(2026, 11, 14))
    assert cal.add_working_time(vn(2026, 11, 14, 11), 2 * H) == vn(2026, 11, 16, 9)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hours": ["17:00-07:00"]}, "increasing"),
        ({"hours": ["07:00-12:00", "11:00-17:00"]}, "overlap"),
        ({"hours": ["7h-11h"]}, "HH:MM-HH:MM"),
        ({"hours": []}, "at least one"),
        ({"weekend": ["caturday"]}, "weekday"),
        ({"utc_offset": 25200}, "quote"),
        ({"utc_offset": "UTC+7"}, r"\+HH:MM"),
        ({"holiday": "VN"}, "unknown keys"),
        ({"holidays": "XX"}, "not a country code"),
        ({"years": {2026: {"days_off": ["2027-01-01"]}}}, "another year"),
        ({"years": {2026: {"day_off": ["2026-01-02"]}}}, "unknown keys"),
        (
            {"years": {2026: {"days_off": ["2026-01-02"], "working_days": ["2026-01-02"]}}},
            "both",
        ),
    ],
)
def test_a_malformed_config_says_what_is_wrong(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar.from_mapping(data)


def test_months_of_working_time_cost_microseconds_not_a_minute_loop() -> None:
    start, end = vn(2026, 1, 5, 9), vn(2027, 7, 5, 9)
    between(start, end)  # build the year tables
    began = wall.perf_counter()
    for _ in range(5000):
        between(start, end)
        add(start, CAL.working_days(60))
    assert wall.perf_counter() - began < 1.0  # ~0.05 s here: thousands a second, easily


# --- properties ----------------------------------------------------------------------

ZONES = st.sampled_from([UTC, VN, timezone(timedelta(hours=-5))])
MOMENTS = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(2024, 12, 1), max_value=datetime(2027, 2, 1)),
    ZONES,
)
DURATIONS = st.builds(
    lambda us: timedelta(microseconds=us), st.integers(-(10**13), 10**13)
)  # about ±115 days of working time


PERIODS_US = ((7 * 3600, 11 * 3600 + 1800), (13 * 3600 + 1800, 17 * 3600))


@st.composite
def working_moments(draw: st.DrawFn, *, closed_at: str) -> datetime:
    """A moment in working hours: in (start, end] or [start, end) of a period."""
    day = draw(st.dates(min_value=date(2024, 12, 1), max_value=date(2027, 1, 31)))
    assume(CAL.is_working_day(day))
    start, end = draw(st.sampled_from(PERIODS_US))
    span_us = (end - start) * 1_000_000
    offset = draw(st.integers(1, span_us) if closed_at == "end" else st.integers(0, span_us - 1))
    local = datetime.combine(day, time(0), VN) + timedelta(seconds=start, microseconds=offset)
    return local.astimezone(draw(ZONES))


@settings(max_examples=300, deadline=None)
@given(MOMENTS, working_moments(closed_at="end"))
def test_adding_the_time_between_lands_on_a_later_end(start: datetime, end: datetime) -> None:
    assume(end > start)
    assert add(start, between(start, end)) == end


@settings(max_examples=300, deadline=None)
@given(MOMENTS, working_moments(closed_at="start"))
def test_going_back_the_time_between_lands_on_an_earlier_end(
    start: datetime, end: datetime
) -> None:
    assume(end <= start)
    assert add(start, between(start, end)) == end


@settings(max_examples=300, deadline=None)
@given(MOMENTS, DURATIONS)
def test_the_time_between_start_and_start_plus_d_is_d(start: datetime, d: timedelta) -> None:
    assert between(start, add(start, d)) == d


@settings(max_examples=300, deadline=None)
@given(MOMENTS, MOMENTS, MOMENTS)
def test_working_time_is_additive_across_a_split_point(
    a: datetime, b: datetime, c: datetime
) -> None:
    assert between(a, b) + between(b, c) == between(a, c)
    assert between(a, b) == -between(b, a)


@settings(max_examples=300, deadline=None)
@given(MOMENTS, MOMENTS, MOMENTS)
def test_working_time_is_monotonic_and_never_more_than_wall_time(
    a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert timedelta(0) <= between(a, b) <= between(a, c)
    assert between(a, c) <= c - a


@settings(max_examples=300, deadline=None)
@given(MOMENTS, DURATIONS, DURATIONS)
def test_a_longer_duration_never_ends_earlier(
    start: datetime, d1: timedelta, d2: timedelta
) -> None:
    d1, d2 = sorted((d1, d2))
    assert add(start, d1) <= add(start, d2)
