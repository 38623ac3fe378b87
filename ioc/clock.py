"""The clock that time-dependent verdicts are judged against, injected everywhere.

"Overdue", "at risk" (due within the next working day) and "unacknowledged for too
long" are not facts of the events but of the events and the time now. Everything
that decides them takes a `Clock` - a moment, a working-time calendar and the
thresholds - so tests pass a fixed one and the processor a fresh one per batch and
per tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import yaml

from ioc.config import Settings

if TYPE_CHECKING:
    from ioc.working_time import WorkingCalendar


class Calendar(Protocol):
    """The working-time questions deadlines need (see `ioc.working_time`)."""

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime: ...

    def working_time_between(self, start: datetime, end: datetime) -> timedelta: ...


class WallCalendar:
    """Every moment is working time: the calendar of tests that do not care about it."""

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        return end - start


@dataclass(frozen=True)
class Clock:
    now: datetime
    calendar: Calendar = field(default_factory=WallCalendar)
    at_risk_within: timedelta = timedelta(hours=8)  # working time: one working day
    ack_within: timedelta = timedelta(minutes=15)  # wall time: an alert nobody took up

    @cached_property
    def at_risk_horizon(self) -> datetime:
        """Deadlines up to this moment are within `at_risk_within` of working time.
        Worked out once per clock (a batch's, a tick's): every open entity asks it."""
        return self.calendar.add_working_time(self.now, self.at_risk_within)

    @property
    def ack_deadline(self) -> datetime:
        """Alerts raised before this moment and not acknowledged are too long unattended."""
        return self.now - self.ack_within


def wall_clock() -> Clock:
    """Now, on the wall calendar (every moment working time) and default thresholds.

    For tests that do not care about working time. It under-states "at risk" (working
    time between two moments is never more than wall time) and counts a filing's
    working-time resolution in wall time; every role judges with
    `clock_for(settings, working_calendar(settings))` instead.
    """
    return Clock(now=datetime.now(UTC))


def clock_for(
    settings: Settings,
    calendar: Calendar | None = None,
    now: Callable[[], datetime] | None = None,
) -> Callable[[], Clock]:
    """A clock factory with the configured thresholds: each call reads the time now.

    `calendar`: what the processes judge with is `working_calendar(settings)`; None is
    the wall calendar. `now`: the time source, injected by tests (a fixed or a
    hand-advanced moment); None reads the system clock."""
    cal = calendar or WallCalendar()
    at_risk = timedelta(hours=settings.at_risk_working_hours)
    ack = timedelta(minutes=settings.alert_ack_minutes)
    read = now or (lambda: datetime.now(UTC))

    def clock() -> Clock:
        return Clock(read(), cal, at_risk_within=at_risk, ack_within=ack)

    return clock


class WorkingTimeFileError(ValueError):
    """The working-time file cannot be used; the message says what to fix."""


def working_calendar(settings: Settings) -> WorkingCalendar:
    """The working-time calendar the processes judge deadlines and silence with and
    count working time in: `IOC_WORKING_TIME_FILE`, or the shipped
    `ioc/reference/working_time.yaml` when it is unset or empty.

    Raises `WorkingTimeFileError`, one line naming the file and what is wrong in it,
    when the file cannot be read or used, so a role refuses to start rather than judge
    with a calendar nobody configured."""
    from ioc.working_time import WorkingCalendar

    path = settings.working_time_file
    where = f"IOC_WORKING_TIME_FILE {path}" if path else "ioc/reference/working_time.yaml"
    try:
        return WorkingCalendar.load(path)
    except OSError as error:
        raise WorkingTimeFileError(f"cannot read {where}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise WorkingTimeFileError(f"{where} is not valid YAML: {_one_line(error)}") from None
    except (ValueError, TypeError, AttributeError) as error:
        # ValueError: the loader's own checks; the others: a value of the wrong shape
        # (`years:` a list, `hours:` a number) that the loader tried to walk.
        raise WorkingTimeFileError(f"{where}: {_one_line(error)}") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
