"""The working calendar as the settings wire it: IOC_WORKING_TIME_FILE or the shipped
file, a one-line refusal of a file that cannot be used, and the clock the roles judge
with (at risk = due within one working day of working time)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ioc.cli import main
from ioc.clock import Clock, WallCalendar, WorkingTimeFileError, clock_for, working_calendar
from ioc.config import Settings
from ioc.domains.base import StoredEvent
from ioc.domains.filings import fold, timed
from ioc.reference_data import silent
from ioc.working_time import WorkingCalendar

VN = timezone(timedelta(hours=7))
FRIDAY_1630 = datetime(2026, 11, 20, 16, 30, tzinfo=VN)
MONDAY_0900 = datetime(2026, 11, 23, 9, 0, tzinfo=VN)


@pytest.fixture(autouse=True)
def no_ioc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IOC_WORKING_TIME_FILE", "IOC_KAFKA_BOOTSTRAP", "IOC_DATABASE_URL",
                 "IOC_DATA_DIR", "IOC_INGEST_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_unset_or_empty_is_the_shipped_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = working_calendar(Settings())
    assert isinstance(shipped, WorkingCalendar)
    assert not shipped.is_working_day(date(2026, 11, 24)), "the shipped file's 24/11"
    assert shipped.day_length == timedelta(hours=8)
    monkeypatch.setenv("IOC_WORKING_TIME_FILE", "")
    assert Settings().working_time_file is None
    assert not working_calendar(Settings()).is_working_day(date(2026, 2, 17))  # Tết


def test_the_file_the_setting_names_is_the_calendar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text('hours: ["08:00-12:00"]\nweekend: [sunday]\nholidays: null\n')
    monkeypatch.setenv("IOC_WORKING_TIME_FILE", str(path))
    settings = Settings()
    assert settings.working_time_file == path
    assert settings.environment()["IOC_WORKING_TIME_FILE"] == str(path)  # to child roles
    calendar = working_calendar(settings)
    assert calendar.day_length == timedelta(hours=4)
    assert calendar.is_working_day(date(2026, 11, 21))  # a Saturday: worked there


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (None, "cannot read"),
        ("hours: [07:00-11:30\n", "is not valid YAML"),
        ('hours: ["7h-11h"]\n', 'hours: expected "HH:MM-HH:MM"'),
        ("holidays: XX\n", "'XX' is not a country code"),
        ("years: [2026]\n", "has no attribute"),
        ("hours: 8\n", "not iterable"),
        ("- a list\n", "expected a mapping"),
        ('years: {2026: {days_off: ["2027-01-01"]}}\n', "another year"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_in_one_line(
    tmp_path: Path, text: str | None, says: str
) -> None:
    path = tmp_path / "working_time.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(WorkingTimeFileError) as refused:
        working_calendar(Settings(working_time_file=path))
    message = str(refused.value)
    assert message.startswith(f"IOC_WORKING_TIME_FILE {path}") or message.startswith(
        f"cannot read IOC_WORKING_TIME_FILE {path}"
    ), message
    assert says in message and "\n" not in message, message


@pytest.mark.parametrize("command", ["process", "serve", "ingest", "migrate", "up", "simulate"])
def test_a_role_with_a_bad_working_time_file_says_what_to_fix_and_starts_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    path = tmp_path / "working_time.yaml"
    path.write_text("weekend: [caturday]\n")
    monkeypatch.setenv("IOC_WORKING_TIME_FILE", str(path))
    # Nothing listens there: a role that got past the calendar would fail differently.
    monkeypatch.setenv("IOC_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("IOC_DATABASE_URL", "postgresql://ioc@127.0.0.1:1/ioc")
    monkeypatch.setenv("IOC_INGEST_TOKEN", "a-token-for-the-test-1234")
    extra = ["--out", str(tmp_path / "out.ndjson")] if command == "simulate" else []
    assert main([command, "--data-dir", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    first, hint, *rest = err.splitlines()
    assert first == (
        f"ioc {command}: WorkingTimeFileError: IOC_WORKING_TIME_FILE {path}: "
        "weekend: expected a weekday name, not 'caturday'"
    )
    assert "IOC_WORKING_TIME_FILE" in hint and "unset it" in hint and not rest
    assert not (tmp_path / "out.ndjson").exists() and not (tmp_path / "postgres").exists()


def _open_filing(due: datetime) -> object:
    received = StoredEvent(
        "e0", "received", FRIDAY_1630 - timedelta(days=3), "000.00.31.H42",
        {"filing_id": "F-1", "procedure_code": "P", "channel": "online",
         "due_at": due.isoformat()},
    )  # fmt: skip
    return fold("F-1", [received], WallCalendar())


def test_the_roles_clock_judges_at_risk_in_working_time() -> None:
    settings = Settings()
    working = clock_for(settings, working_calendar(settings), now=lambda: FRIDAY_1630)()
    wall = clock_for(settings, now=lambda: FRIDAY_1630)()
    assert working.now == FRIDAY_1630 and isinstance(wall.calendar, WallCalendar)
    # Friday 16:30 + 8 working hours: 0.5 h on Friday, 7.5 h on Monday.
    assert working.at_risk_horizon == datetime(2026, 11, 23, 16, 30, tzinfo=VN)
    assert wall.at_risk_horizon == datetime(2026, 11, 21, 0, 30, tzinfo=VN)
    due_monday = _open_filing(MONDAY_0900)
    assert timed(due_monday, working).at_risk, "2.5 working hours left"
    assert not timed(due_monday, wall).at_risk, "64.5 hours left on the wall"
    # Due Wednesday 09:00 across the day off of Tuesday 24/11: judged Monday 10:00 it
    # has 5 h (Monday) + 0 + 2 h (Wednesday) left, within one working day.
    due_wednesday = _open_filing(datetime(2026, 11, 25, 9, tzinfo=VN))
    monday_1000 = clock_for(settings, working_calendar(settings), now=lambda: MONDAY_0900
                            + timedelta(hours=1))()  # fmt: skip
    assert not timed(due_wednesday, working).at_risk, "10.5 working hours left on Friday"
    assert timed(due_wednesday, monday_1000).at_risk
    assert timed(_open_filing(FRIDAY_1630 - timedelta(minutes=1)), working).overdue


def test_the_thresholds_come_from_the_settings() -> None:
    settings = Settings(at_risk_working_hours=4, alert_ack_minutes=5)
    clock = clock_for(settings, working_calendar(settings), now=lambda: FRIDAY_1630)()
    assert clock == Clock(FRIDAY_1630, clock.calendar, timedelta(hours=4), timedelta(minutes=5))
    assert clock.at_risk_horizon == datetime(2026, 11, 23, 10, 30, tzinfo=VN)


def test_a_source_is_silent_only_past_its_cadence_in_working_hours() -> None:
    calendar = working_calendar(Settings())
    two_hours = timedelta(hours=2)
    last = datetime(2026, 11, 20, 16, 0, tzinfo=VN)  # Friday 16:00
    assert not silent(last, datetime(2026, 11, 23, 7, 30, tzinfo=VN), two_hours, calendar)
    assert silent(last, datetime(2026, 11, 23, 8, 30, tzinfo=VN), two_hours, calendar)
    # Monday 16:00 to Wednesday 07:30: Tuesday 24/11 is a day off.
    monday = datetime(2026, 11, 23, 16, 0, tzinfo=VN)
    assert not silent(monday, datetime(2026, 11, 25, 7, 30, tzinfo=VN), two_hours, calendar)
    assert silent(monday, datetime(2026, 11, 25, 7, 30, tzinfo=VN), two_hours, WallCalendar())


def test_the_api_judges_with_the_calendar_of_the_settings(tmp_path: Path) -> None:
    from ioc.api.app import create_app

    path = tmp_path / "hours.yaml"
    path.write_text('hours: ["08:00-12:00"]\n')
    settings = Settings(working_time_file=path, ingest_token="a-token-for-the-test-1234")
    calendar = create_app(settings).state.calendar
    assert isinstance(calendar, WorkingCalendar) and calendar.day_length == timedelta(hours=4)
