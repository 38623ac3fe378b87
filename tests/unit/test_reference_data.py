"""The reference file: the shipped example loads, cadences resolve per source and agency,
silence is judged in working time, and a malformed file says where it is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ioc.clock import WallCalendar
from ioc.reference_data import commune_name, load_reference, silent


def test_the_shipped_example_province_loads_with_names_for_its_codes() -> None:
    ref = load_reference()
    assert ref.province.code == 42 and ref.province.name == "Hà Tĩnh"
    assert ref.agency_name("000.02.31.H42") == "Sở Nội vụ"
    assert ref.agency_name("999.99.99.X99") == "999.99.99.X99", "unknown codes show by code"
    communes = [a.commune_code for a in ref.agencies if a.level == "commune"]
    assert communes and all(commune_name(code or "") for code in communes)
    assert commune_name("18073") == "Phường Thành Sen"


def test_cadence_per_source_overridden_per_agency_and_never_for_central_agencies() -> None:
    ref = load_reference()
    assert ref.cadence_for("filings") == timedelta(hours=2)
    assert ref.cadence_for("documents", "000.00.31.H42") == timedelta(hours=1)  # override
    assert ref.cadence_for("documents", "000.00.00.G01") is None  # central
    assert ref.cadence_for("security") is None  # alerts come when they come


def test_silence_is_judged_in_working_time() -> None:
    class Office:  # 08:00-17:00 UTC every day, enough for the idea
        def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
            raise NotImplementedError

        def working_time_between(self, start: datetime, end: datetime) -> timedelta:
            total, moment = timedelta(0), start
            while moment < end:
                step = min(timedelta(minutes=30), end - moment)
                if 8 <= moment.hour < 17:
                    total += step
                moment += step
            return total

    evening = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    next_morning = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    two_hours = timedelta(hours=2)
    assert not silent(evening, next_morning, two_hours, Office()), "a night is not silence"
    assert silent(evening, next_morning + timedelta(hours=2), two_hours, Office())
    assert silent(evening, next_morning, two_hours, WallCalendar())
    assert not silent(None, next_morning, two_hours, Office())
    assert not silent(evening, next_morning + timedelta(days=9), None, Office())


def test_a_malformed_reference_file_says_which_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "province.yaml"
    bad.write_text("province: {code: 42, name: X, agency_suffix: H42}\nagencies:\n"
                   "- {code: not-a-code, name: Y, level: province}\n")  # fmt: skip
    with pytest.raises(ValueError, match=r"province\.yaml.*agencies\.0\.code"):
        load_reference(bad)
