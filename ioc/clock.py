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
from typing import Protocol

from ioc.config import Settings


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

    @property
    def at_risk_horizon(self) -> datetime:
        """Deadlines up to this moment are within `at_risk_within` of working time."""
        return self.calendar.add_working_time(self.now, self.at_risk_within)

    @property
    def ack_deadline(self) -> datetime:
        """Alerts raised before this moment and not acknowledged are too long unattended."""
        return self.now - self.ack_within


def wall_clock() -> Clock:
    """Now, on the wall calendar (every moment working time) and default thresholds.

    What a test or `ioc migrate` uses; it under-states "at risk" (working time between
    two moments is never more than wall time), and the processor's tick, which knows
    the working calendar, turns the rest when they come due.
    """
    return Clock(now=datetime.now(UTC))


def clock_for(settings: Settings, calendar: Calendar | None = None) -> Callable[[], Clock]:
    """A clock factory with the configured thresholds: each call reads the time now."""
    cal = calendar or WallCalendar()
    at_risk = timedelta(hours=settings.at_risk_working_hours)
    ack = timedelta(minutes=settings.alert_ack_minutes)

    def now() -> Clock:
        return Clock(datetime.now(UTC), cal, at_risk_within=at_risk, ack_within=ack)

    return now


def working_calendar(settings: Settings) -> Calendar:
    """The working-time calendar the processes judge deadlines and silence with.

    The wall calendar until the working-time calendar (hours, weekends, Vietnamese
    holidays) is wired in here; it understates "at risk" and overstates silence at
    night, never the other way round for deadlines."""
    return WallCalendar()
