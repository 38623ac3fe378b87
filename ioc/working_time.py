"""Working time: the calendar deadlines are counted in.

"Overdue", "due within one working day" and a procedure's legal processing time
(Decision 766) count only working time: the working hours of a working day
(default 07:00-11:30 and 13:30-17:00, 8 h), on days that are neither a weekend day
nor a day off. Days off are Vietnam's public holidays from the `holidays` package
(which computes Tết and Hùng Kings' day on the Vietnamese, UTC+7, lunar calendar
and knows the Prime Minister's swapped days it has been told of), corrected per year
by configuration: the Prime Minister fixes the actual days off each year.

Local time is a fixed UTC+7 offset (Vietnam has had no daylight saving time since
1975, so this equals the `Asia/Ho_Chi_Minh` zone and needs no tz database).

Everything here is pure: no clock is read; datetimes in must be timezone-aware, and
datetimes out are aware, in UTC. A working period is half-open, [07:00, 11:30), so
17:00 itself is after hours. Internally a moment is mapped to the working time
elapsed since the start of its day plus whole working days, counted with per-year
prefix sums, so nothing loops minute by minute and a span of months costs a few
dictionary look-ups.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import holidays
import yaml

__all__ = ["WorkingCalendar", "YearOverride", "working_days"]

_US_PER_DAY = 86_400_000_000
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")

DEFAULT_PERIODS: tuple[tuple[time, time], ...] = (
    (time(7, 0), time(11, 30)),
    (time(13, 30), time(17, 0)),
)
# Vietnam's local time, the one declaration every module uses.
VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


def working_days(n: float, calendar: WorkingCalendar | None = None) -> timedelta:
    """N working days as working time: n x the working hours of a day (8 h by default)."""
    day = calendar.day_length if calendar is not None else _DEFAULT_DAY_LENGTH
    return day * n


def _us(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def _time_us(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


_DEFAULT_DAY_LENGTH = timedelta(
    microseconds=sum(_time_us(end) - _time_us(start) for start, end in DEFAULT_PERIODS)
)


@dataclass(frozen=True)
class YearOverride:
    """One year's corrections to the package's holidays, as the Prime Minister fixed them.

    `days_off` are added (a compensatory or adjacent day, a day the package lacks);
    `not_days_off` are taken out of the package's list (a day it has but the year
    does not); `working_days` are worked whatever the weekday (a Saturday or Sunday
    swapped for a day off).
    """

    days_off: frozenset[date] = frozenset()
    not_days_off: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class _Year:
    first: int  # ordinal of 1 January
    working: bytes  # 1 per working day of the year, by day of year (0-based)
    before: tuple[int, ...]  # before[i] = working days among the first i days of the year

    @property
    def total(self) -> int:
        return self.before[-1]


@dataclass(frozen=True, eq=False)
class WorkingCalendar:
    """Working hours, weekend days and days off; answers in working time.

    Build it with `WorkingCalendar.load(path)` (None: the shipped
    `ioc/reference/working_time.yaml`) or directly. The year tables are computed
    on first use and cached in the instance; the instance is otherwise immutable
    and safe to share between threads (a race only computes a table twice).
    """

    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    weekend: frozenset[int] = frozenset({5, 6})  # date.weekday(): Saturday, Sunday
    country: str | None = "VN"  # `holidays` country code; None: no public holidays
    overrides: Mapping[int, YearOverride] = field(default_factory=dict)
    tz: timezone = VN_TZ
    _years: dict[int, _Year] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("working hours: at least one period is needed")
        last_end = -1
        for start, end in self.periods:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("working hours are local times, without a zone")
            if not _time_us(start) < _time_us(end) or _time_us(start) < last_end:
                raise ValueError(f"working hours must be increasing and not overlap: {start}-{end}")
            last_end = _time_us(end)
        if self.tz.utcoffset(None) is None:
            raise ValueError("tz must be a fixed offset")
        if self.country is not None and self.country not in holidays.list_supported_countries():
            # Checked here: the package would only refuse it when a year is first built,
            # in the middle of a batch.
            raise ValueError(
                f"holidays: {self.country!r} is not a country code of the `holidays` "
                "package (e.g. VN), nor null"
            )
        for year, override in self.overrides.items():
            every = override.days_off | override.not_days_off | override.working_days
            wrong = sorted(day for day in every if day.year != year)
            if wrong:
                raise ValueError(f"override {year} lists days of another year: {wrong}")
            clash = override.days_off & (override.not_days_off | override.working_days)
            if clash:
                raise ValueError(f"override {year}: both a day off and not: {sorted(clash)}")
        # Frozen: the derived constants are set once here.
        spans = tuple((_time_us(s), _time_us(e)) for s, e in self.periods)
        object.__setattr__(self, "_spans", spans)
        object.__setattr__(self, "_day_us", sum(e - s for s, e in spans))

    _spans: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _day_us: int = field(init=False, repr=False, compare=False)

    # --- construction -------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> WorkingCalendar:
        """The calendar of a YAML file; None: the shipped default."""
        if path is None:
            text = (
                resources.files("ioc")
                .joinpath("reference/working_time.yaml")
                .read_text(encoding="utf-8")
            )
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        if not isinstance(data, Mapping):
            raise ValueError("expected a mapping at the top (utc_offset, hours, weekend...)")
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WorkingCalendar:
        """The calendar of parsed YAML (see `ioc/reference/working_time.yaml`)."""
        known = {"utc_offset", "hours", "weekend", "holidays", "years"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"working time: unknown keys {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        if "utc_offset" in data:
            kwargs["tz"] = _parse_offset(data["utc_offset"])
        if "hours" in data:
            kwargs["periods"] = tuple(_parse_period(p) for p in data["hours"])
        if "weekend" in data:
            kwargs["weekend"] = frozenset(_parse_weekday(d) for d in data["weekend"] or ())
        if "holidays" in data:
            country = data["holidays"]
            if country is not None and (not isinstance(country, str) or not country):
                raise ValueError(f"holidays: a country code or null, not {country!r}")
            kwargs["country"] = country
        kwargs["overrides"] = {
            int(year): _parse_override(int(year), entry or {})
            for year, entry in (data.get("years") or {}).items()
        }
        return cls(**kwargs)

    # --- questions about days -----------------------------------------------------

    @property
    def day_length(self) -> timedelta:
        """The working time of one working day (8 h by default)."""
        return timedelta(microseconds=self._day_us)

    def working_days(self, n: float) -> timedelta:
        """N working days as working time: n x `day_length`."""
        return self.day_length * n

    def is_working_day(self, day: date) -> bool:
        """Whether `day` (a local date) has working hours."""
        if isinstance(day, datetime):
            raise TypeError("is_working_day takes a date; use .astimezone(...).date()")
        table = self._year(day.year)
        return table.working[day.toordinal() - table.first] == 1

    def days_off(self, year: int) -> list[date]:
        """The year's days off that would otherwise be working days (for display)."""
        table = self._year(year)
        weekend = self.weekend
        return [
            date.fromordinal(table.first + i)
            for i, flag in enumerate(table.working)
            if not flag and date.fromordinal(table.first + i).weekday() not in weekend
        ]

    # --- working time ----------------------------------------------------------------

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time from `start` to `end`; negative when `end` is before `start`.

        Antisymmetric: between(a, b) == -between(b, a), and additive: between(a, b) +
        between(b, c) == between(a, c) for any order of a, b, c.
        """
        s_day, s_us = self._local(start)
        e_day, e_us = self._local(end)
        if (s_day, s_us) > (e_day, e_us):
            return -self.working_time_between(end, start)
        whole = self._count(s_day, e_day)  # working days in [s_day, e_day)
        total = whole * self._day_us - self._worked(s_day, s_us) + self._worked(e_day, e_us)
        return timedelta(microseconds=total)

    def working_time_left(self, now: datetime, due: datetime) -> timedelta:
        """Working time from `now` until `due`; negative (the time overdue) once past."""
        return self.working_time_between(now, due)

    def end_of_working_day(self, moment: datetime, days_after: int = 0) -> datetime:
        """Close of business (the last period's end, 17:00) `days_after` working days
        after the working day `moment` counts in.

        The appointment convention (NgayHenTra): a filing counts in the day it is
        received, or the next working day when received after hours or on a day off,
        and is due at close of business N working days later (0: that same day).
        """
        if days_after < 0:
            raise ValueError(f"days_after must be >= 0, not {days_after}")
        first = self.add_working_time(moment, timedelta(0))  # in working hours now
        day, _ = self._local(first)
        return self._out(self._nth_working_day(day, days_after + 1), self._spans[-1][1])

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` (before, when negative).

        A positive duration ends at the earliest moment it is used up, so a day's
        work ends at 17:00 that day ("Friday 15:00 + 2 h" is Friday 17:00), and a
        start outside working hours counts from the next working period ("Friday
        16:00 + 2 h" is Monday 08:00; a filing received on Saturday or after 17:00
        starts the next working morning). A zero duration gives `start` when it is
        in working hours, else the start of the next working period. A negative one
        gives the latest moment that far back, so it lands at a period's start
        rather than at the previous one's end ("Monday 08:00 - 1 h" is 07:00).
        """
        day, tod = self._local(start)
        target = self._worked(day, tod) + _us(duration)  # working time since day's start
        if duration > timedelta(0):
            return self._earliest(day, target)
        return self._latest(day, target)

    # --- internals -------------------------------------------------------------------

    def _local(self, moment: datetime) -> tuple[date, int]:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"a timezone-aware datetime is needed, not {moment!r}")
        local = moment.astimezone(self.tz)
        return local.date(), _time_us(local.time())

    def _out(self, day: date, tod_us: int) -> datetime:
        local = datetime.combine(day, time(0), self.tz) + timedelta(microseconds=tod_us)
        return local.astimezone(UTC)

    def _worked(self, day: date, tod_us: int) -> int:
        """Working time on `day` before the local time of day `tod_us`."""
        if not self.is_working_day(day):
            return 0
        worked = 0
        for start, end in self._spans:
            if tod_us <= start:
                break
            worked += min(tod_us, end) - start
        return worked

    def _earliest(self, day: date, target: int) -> datetime:
        """The earliest moment with `target` working time done since `day` began."""
        k = -(-target // self._day_us)  # ceil: the k-th working day counting from `day`
        rest = target - (k - 1) * self._day_us  # in (0, day]
        found = self._nth_working_day(day, k)
        done = 0
        for start, end in self._spans:
            if done + (end - start) >= rest:
                return self._out(found, start + rest - done)
            done += end - start
        raise AssertionError("unreachable: rest is at most one working day")

    def _latest(self, day: date, target: int) -> datetime:
        """The latest moment with at most `target` working time done since `day` began."""
        q, rest = divmod(target, self._day_us)  # rest in [0, day)
        found = self._nth_working_day(day, q + 1)
        done = 0
        for start, end in self._spans:
            if done + (end - start) > rest:
                return self._out(found, start + rest - done)
            done += end - start
        raise AssertionError("unreachable: rest is less than one working day")

    def _nth_working_day(self, day: date, k: int) -> date:
        """k >= 1: the k-th working day on or after `day`; k <= 0: the (1-k)-th before it."""
        year = day.year
        table = self._year(year)
        base = table.before[day.toordinal() - table.first]  # working days before `day`
        if k >= 1:
            wanted = base + k
            while wanted > table.total:
                wanted -= table.total
                year += 1
                table = self._year(year)
        else:
            wanted = base - (1 - k) + 1
            while wanted < 1:
                year -= 1
                table = self._year(year)
                wanted += table.total
        index = bisect_left(table.before, wanted) - 1
        return date.fromordinal(table.first + index)

    def _count(self, first: date, last: date) -> int:
        """Working days in [first, last), first <= last."""
        if first.year == last.year:
            table = self._year(first.year)
            return (
                table.before[last.toordinal() - table.first]
                - table.before[first.toordinal() - table.first]
            )
        head = self._year(first.year)
        count = head.total - head.before[first.toordinal() - head.first]
        for year in range(first.year + 1, last.year):
            count += self._year(year).total
        tail = self._year(last.year)
        return count + tail.before[last.toordinal() - tail.first]

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            table = self._build_year(year)
            self._years[year] = table
        return table

    def _build_year(self, year: int) -> _Year:
        off, worked = self._holidays(year)
        override = self.overrides.get(year, YearOverride())
        off = (off | override.days_off) - override.not_days_off - override.working_days
        worked = worked | override.working_days
        first = date(year, 1, 1).toordinal()
        size = date(year, 12, 31).toordinal() - first + 1
        flags = bytearray(size)
        before = [0] * (size + 1)
        for i in range(size):
            day = date.fromordinal(first + i)
            working = day in worked or (day.weekday() not in self.weekend and day not in off)
            flags[i] = 1 if working else 0
            before[i + 1] = before[i] + flags[i]
        return _Year(first=first, working=bytes(flags), before=tuple(before))

    def _holidays(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        """The package's days off for `year`, and weekend days it says are worked."""
        if self.country is None:
            return frozenset(), frozenset()
        table = holidays.country_holidays(self.country, years=year)
        off = frozenset(d for d in table if d.year == year)
        worked = frozenset(d for d in getattr(table, "weekend_workdays", ()) if d.year == year)
        return off, worked


def _parse_offset(value: Any) -> timezone:
    if isinstance(value, int):  # YAML reads +07:00 unquoted as a sexagesimal number
        raise ValueError('utc_offset: quote it, e.g. "+07:00"')
    match = _OFFSET.match(str(value))
    if not match:
        raise ValueError(f'utc_offset: expected "+HH:MM", not {value!r}')
    sign = -1 if match.group(1) == "-" else 1
    offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3))) * sign
    return VN_TZ if offset == VN_TZ.utcoffset(None) else timezone(offset)


def _parse_period(value: Any) -> tuple[time, time]:
    match = _PERIOD.match(str(value))
    if not match:
        raise ValueError(f'hours: expected "HH:MM-HH:MM", not {value!r}')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return time(h1, m1), time(h2, m2)


def _parse_weekday(value: Any) -> int:
    name = str(value).strip().lower()
    if name not in _WEEKDAYS:
        raise ValueError(f"weekend: expected a weekday name, not {value!r}")
    return _WEEKDAYS.index(name)


def _parse_dates(year: int, key: str, values: Iterable[Any] | None) -> frozenset[date]:
    days: set[date] = set()
    for value in values or ():
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
        if isinstance(day, datetime):
            raise ValueError(f"years.{year}.{key}: {value!r} is a moment, not a date")
        days.add(day)
    return frozenset(days)


def _parse_override(year: int, entry: Mapping[str, Any]) -> YearOverride:
    known = {"days_off", "not_days_off", "working_days"}
    unknown = set(entry) - known
    if unknown:
        raise ValueError(f"years.{year}: unknown keys {sorted(unknown)}")
    return YearOverride(
        days_off=_parse_dates(year, "days_off", entry.get("days_off")),
        not_days_off=_parse_dates(year, "not_days_off", entry.get("not_days_off")),
        working_days=_parse_dates(year, "working_days", entry.get("working_days")),
    )
