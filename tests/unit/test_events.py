from datetime import UTC, datetime

import pytest

from ioc.events import FieldError, FilingEvent, SecurityEvent, decode_event, validate_event
from tests.records import alert, document, filing


def test_a_valid_filing_becomes_an_event_in_utc() -> None:
    event = validate_event("filings", filing("e1", "F-1", "received", 5))
    assert isinstance(event, FilingEvent)
    assert event.entity_id == "F-1"
    assert event.occurred_at == datetime(2026, 11, 22, 2, 5, tzinfo=UTC)
    assert event.source == "filings"


def test_each_source_has_its_own_entity_id() -> None:
    assert validate_event("documents", document("e", "D-7")).entity_id == "D-7"  # type: ignore[union-attr]
    event = validate_event("security", alert("e", "A-3"))
    assert isinstance(event, SecurityEvent) and event.entity_id == "A-3"


def test_errors_are_reported_per_field() -> None:
    record = filing("e1", "F-1")
    record["occurred_at"] = "2026-11-22T09:00:00"  # no zone
    record["payload"]["channel"] = "fax"
    del record["payload"]["filing_id"]
    errors = validate_event("filings", record)
    assert isinstance(errors, list)
    by_field = {e.loc: e.msg for e in errors}
    assert by_field["occurred_at"] == "Input should have timezone info"
    assert "payload.channel" in by_field
    assert by_field["payload.filing_id"] == "Field required"


@pytest.mark.parametrize("agency", ["000.00.31.H42", "000.00.00.G22", "H42.12.01.A01"])
def test_agency_codes_in_the_qcvn_102_shape_are_accepted(agency: str) -> None:
    assert not isinstance(validate_event("filings", {**filing("e", "F"), "agency": agency}), list)


@pytest.mark.parametrize("agency", ["", "000.00.31", "000-00-31-H42", "000.00.31.h42 "])
def test_other_agency_codes_are_refused(agency: str) -> None:
    errors = validate_event("filings", {**filing("e", "F"), "agency": agency})
    assert isinstance(errors, list) and errors[0].loc == "agency"


def test_a_record_for_another_source_is_refused() -> None:
    errors = validate_event("security", {**filing("e", "F"), "source": "filings"})
    assert errors == [
        FieldError(loc="source", msg="record is for 'filings' but was sent to /ingest/security")
    ]


def test_unknown_fields_and_non_objects_are_refused() -> None:
    errors = validate_event("documents", {**document("e", "D"), "colour": "red"})
    assert isinstance(errors, list) and errors[0].loc == "colour"
    assert validate_event("documents", [1, 2]) == [
        FieldError(loc="", msg="expected a JSON object, got list")
    ]


def test_blank_event_ids_are_refused() -> None:
    errors = validate_event("documents", {**document("e", "D"), "event_id": "a b"})
    assert isinstance(errors, list) and errors[0].loc == "event_id"


def test_what_ingest_writes_the_processor_reads_back_unchanged() -> None:
    event = validate_event("security", alert("s1", "A-1", "critical"))
    assert isinstance(event, SecurityEvent)
    assert decode_event("security", event.model_dump_json().encode()) == event
