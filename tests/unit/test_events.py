from datetime import UTC, datetime
from typing import Any

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


# Each of these used to answer HTTP 500 at ingest, or to be taken and then refused
# by PostgreSQL; now each is refused at the door, per record and per field.


@pytest.mark.parametrize(
    "occurred_at",
    [
        "9999-12-31T23:30:00-01:00",  # UTC conversion overflowed past year 9999
        "0001-01-01T00:00:00+07:00",  # and below year 1
        "1969-12-31T23:59:59+00:00",
        "1970-01-01T06:59:59+07:00",  # 1969 in UTC
        "2101-01-01T00:00:00+00:00",
        "2100-12-31T23:00:00-05:00",  # 2101 in UTC
    ],
)
def test_occurred_at_outside_1970_to_2100_is_refused(occurred_at: str) -> None:
    errors = validate_event("filings", {**filing("e", "F"), "occurred_at": occurred_at})
    assert isinstance(errors, list)
    assert [e.loc for e in errors] == ["occurred_at"]
    assert "1970-01-01T00:00:00Z" in errors[0].msg and "UTC offset" in errors[0].msg


@pytest.mark.parametrize("occurred_at", ["1970-01-01T07:00:00+07:00", "2100-12-31T23:59:59+00:00"])
def test_the_edges_of_the_range_are_accepted(occurred_at: str) -> None:
    event = validate_event("filings", {**filing("e", "F"), "occurred_at": occurred_at})
    assert isinstance(event, FilingEvent)


@pytest.mark.parametrize("field", ["due_at", "received_at"])
def test_payload_instants_9999_12_31_and_0001_01_01_are_refused(field: str) -> None:
    for value in ("9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00+07:00"):
        record = filing("e", "F")
        record["payload"][field] = value
        errors = validate_event("filings", record)
        assert isinstance(errors, list) and errors[0].loc == f"payload.{field}"
    record = document("e", "D")
    record["payload"]["due_at"] = "9999-12-31T23:30:00-01:00"
    errors = validate_event("documents", record)
    assert isinstance(errors, list) and errors[0].loc == "payload.due_at"


@pytest.mark.parametrize("value", ["10.1.2.300", "2001:db8::g", "example.org", "", 5, [1]])
def test_a_bad_ip_address_gets_one_error_that_says_what_an_address_looks_like(value: Any) -> None:
    record = alert("e", "A")
    record["payload"]["src_ip"] = value
    errors = validate_event("security", record)
    assert isinstance(errors, list)
    assert [(e.loc, e.msg) for e in errors] == [
        ("payload.src_ip", "must be an IPv4 or IPv6 address as text, e.g. 10.0.0.1 or 2001:db8::1")
    ]


@pytest.mark.parametrize(
    ("sent", "stored"), [("10.1.2.3", "10.1.2.3"), ("2001:DB8::1", "2001:db8::1")]
)
def test_ip_addresses_of_either_family_are_accepted(sent: str, stored: str) -> None:
    record = alert("e", "A")
    record["payload"]["dest_ip"] = sent
    event = validate_event("security", record)
    assert isinstance(event, SecurityEvent)
    assert str(event.payload.dest_ip) == stored
    assert decode_event("security", event.model_dump_json().encode()) == event


@pytest.mark.parametrize("fee", [10**15 + 1, 2**63, 10**400, -1])
def test_fee_vnd_beyond_10_to_the_15_is_refused(fee: int) -> None:
    record = filing("e", "F")
    record["payload"]["fee_vnd"] = fee
    errors = validate_event("filings", record)
    assert isinstance(errors, list) and errors[0].loc == "payload.fee_vnd"


def test_a_fee_of_10_to_the_15_is_accepted() -> None:
    record = filing("e", "F")
    record["payload"]["fee_vnd"] = 10**15
    assert isinstance(validate_event("filings", record), FilingEvent)


@pytest.mark.parametrize(
    ("source", "record", "loc"),
    [
        ("filings", {**filing("e\x00", "F")}, "event_id"),
        ("filings", filing("e", "F\x00"), "payload.filing_id"),
        ("security", alert("e", "A"), "payload.asset"),
        ("documents", document("e", "D"), "payload.document_type"),
    ],
)
def test_a_string_with_nul_is_refused(source: str, record: dict[str, Any], loc: str) -> None:
    if loc == "payload.asset":
        record["payload"]["asset"] = "portal\x00.gov.vn"
    if loc == "payload.document_type":
        record["payload"]["document_type"] = "\x00"
    errors = validate_event(source, record)
    assert isinstance(errors, list)
    assert [str(e) for e in errors] == [
        f"{loc}: contains a NUL character (\\u0000), which cannot be stored; remove it"
    ]


@pytest.mark.parametrize("text", ["\ud800", "a\udc00b"])
def test_a_string_with_a_lone_surrogate_is_refused(text: str) -> None:
    record = alert("e", "A")
    record["payload"]["signature"] = text
    errors = validate_event("security", record)
    assert isinstance(errors, list) and errors[0].loc == "payload.signature"
    assert "lone UTF-16 surrogate" in errors[0].msg
    errors = validate_event("security", {**alert("e", "A"), "event_id": text})
    assert isinstance(errors, list) and errors[0].loc == "event_id"


def test_over_long_strings_are_refused() -> None:
    record = alert("e", "A")
    record["payload"]["asset"] = "x" * 501
    errors = validate_event("security", record)
    assert isinstance(errors, list) and errors[0].loc == "payload.asset"
    errors = validate_event("security", {**alert("e", "A"), "event_id": "e" * 201})
    assert isinstance(errors, list) and errors[0].loc == "event_id"


def test_a_record_with_thousands_of_unknown_fields_gets_a_bounded_error_list() -> None:
    record = {**filing("e", "F"), **{f"x{i}" * 100: 1 for i in range(5000)}}
    errors = validate_event("filings", record)
    assert isinstance(errors, list) and len(errors) == 51
    assert errors[-1].msg == "... and 4950 more errors in this record"
    assert all(len(e.loc) <= 103 for e in errors)


def test_a_key_with_a_lone_surrogate_is_refused_in_words_that_encode() -> None:
    errors = validate_event("filings", {**filing("e", "F"), "k\ud800": 1})
    assert isinstance(errors, list) and "lone UTF-16 surrogate" in errors[0].msg
    str(errors[0]).encode()  # would raise if the surrogate came through


def test_a_status_update_may_send_only_the_id_but_an_opening_event_must_say_what_it_is() -> None:
    update = {**filing("e2", "F-1", "resolved"), "payload": {"filing_id": "F-1"}}
    assert isinstance(validate_event("filings", update), FilingEvent)
    opening = {**filing("e1", "F-1", "received"), "payload": {"filing_id": "F-1"}}
    errors = validate_event("filings", opening)
    assert isinstance(errors, list)
    assert errors[0].msg.startswith("a 'received' event opens the entity")  # no "Value error,"
    assert "payload.procedure_code, payload.channel" in errors[0].msg
    ack = {**alert("s2", "A-1", type_="acknowledged"), "payload": {"alert_id": "A-1",
           "actor": "trực ban SOC"}}  # fmt: skip
    assert isinstance(validate_event("security", ack), SecurityEvent)
