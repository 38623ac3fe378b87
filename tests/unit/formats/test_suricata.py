from typing import Any

import pytest

from ingestors.formats import suricata
from ingestors.formats.base import NO_ZONE
from tests.unit.formats.samples import AGENCY, SURICATA_ALERT, SURICATA_DNS, ctx, fresh


def test_an_alert_becomes_one_raised_security_event() -> None:
    mapped = suricata.map_record(fresh(SURICATA_ALERT), ctx())
    assert not mapped.errors and not mapped.warnings
    [event] = mapped.events
    assert event["type"] == "raised"
    assert event["occurred_at"] == "2026-11-22T09:45:00.123456+07:00"
    assert event["agency"] == AGENCY  # from ?agency=: the record names none
    payload = event["payload"]
    assert payload["severity"] == "high"  # priority 1
    assert payload["category"] == "intrusion"  # "Web Application Attack"
    assert payload["signature"] == (
        "[1:2006446:14] ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT"
    )
    assert (payload["src_ip"], payload["dest_ip"]) == ("203.0.113.7", "10.20.0.15")
    assert payload["asset"] == "10.20.0.15"  # inbound: the internal end is the destination
    assert payload["alert_id"].startswith("suricata-1:2006446-")


def test_a_resent_line_has_the_same_event_id_and_another_firing_the_same_alert_id() -> None:
    first = suricata.map_record(fresh(SURICATA_ALERT), ctx()).events[0]
    reordered = dict(reversed(list(fresh(SURICATA_ALERT).items())))
    assert suricata.map_record(reordered, ctx()).events[0]["event_id"] == first["event_id"]
    later = {**fresh(SURICATA_ALERT), "timestamp": "2026-11-22T09:50:00.000001+0700"}
    again = suricata.map_record(later, ctx()).events[0]
    assert again["event_id"] != first["event_id"]
    assert again["payload"]["alert_id"] == first["payload"]["alert_id"]


@pytest.mark.parametrize(
    ("priority", "severity"), [(1, "high"), (2, "medium"), (3, "low"), (4, "low"), (255, "low")]
)
def test_the_priority_table(priority: int, severity: str) -> None:
    record = fresh(SURICATA_ALERT)
    record["alert"]["severity"] = priority
    assert suricata.map_record(record, ctx()).events[0]["payload"]["severity"] == severity


@pytest.mark.parametrize(
    ("classtype", "category"),
    [
        ("A Network Trojan was detected", "malware"),
        ("Attempted Denial of Service", "ddos"),
        ("Potential Corporate Privacy Violation", "policy"),
        ("Detection of a Network Scan", "intrusion"),
        ("Possible Social Engineering Attempted", "phishing"),
        ("access to a potentially vulnerable web application", "vulnerability"),
        ("Misc activity", "other"),
    ],
)
def test_categories_from_the_classtype(classtype: str, category: str) -> None:
    record = fresh(SURICATA_ALERT)
    record["alert"]["category"] = classtype
    record["alert"]["signature"] = "ET INFO something"
    assert suricata.map_record(record, ctx()).events[0]["payload"]["category"] == category


@pytest.mark.parametrize("event_type", ["dns", "http", "flow", "tls", "stats", "anomaly"])
def test_other_event_types_are_counted_not_alerted(event_type: str) -> None:
    mapped = suricata.map_record({**fresh(SURICATA_DNS), "event_type": event_type}, ctx())
    assert (mapped.events, mapped.errors, mapped.skipped) == ([], [], event_type)
    assert mapped.note and event_type in mapped.note


def test_an_unknown_event_type_is_counted_as_other() -> None:
    assert suricata.map_record({**SURICATA_DNS, "event_type": "x" * 300}, ctx()).skipped == "other"


def test_an_outbound_connection_makes_the_internal_source_the_asset() -> None:
    record = fresh(SURICATA_ALERT)
    record.update(src_ip="10.20.0.44", dest_ip="185.220.101.4")
    record["alert"]["category"] = "A Network Trojan was detected"
    assert suricata.map_record(record, ctx()).events[0]["payload"]["asset"] == "10.20.0.44"


def test_the_agency_the_record_names_wins() -> None:
    record = {**fresh(SURICATA_ALERT), "agency": "000.00.12.H42"}
    assert suricata.map_record(record, ctx()).events[0]["agency"] == "000.00.12.H42"


def test_a_timestamp_without_a_zone_is_vietnam_time_and_says_so() -> None:
    record = {**fresh(SURICATA_ALERT), "timestamp": "2026-11-22T09:45:00.534255"}
    mapped = suricata.map_record(record, ctx())
    assert mapped.events[0]["occurred_at"] == "2026-11-22T09:45:00.534255+07:00"
    [warning] = mapped.warnings
    assert warning.field == "timestamp" and warning.kind == NO_ZONE
    assert "Asia/Ho_Chi_Minh" in warning.reason


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"alert": {"signature_id": 1, "severity": 0}}, "alert.severity"),
        ({"alert": {"signature_id": 1, "severity": "1"}}, "alert.severity"),
        ({"alert": {"severity": 1}}, "alert.signature_id"),
        ({"alert": None}, "alert"),
        ({"src_ip": "not-an-ip"}, "src_ip"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 1763779500}, "timestamp"),
    ],
)
def test_bad_records_name_the_field(change: dict[str, Any], field: str) -> None:
    mapped = suricata.map_record({**fresh(SURICATA_ALERT), **change}, ctx())
    assert not mapped.events
    assert field in [e.field for e in mapped.errors], mapped.errors


def test_no_agency_anywhere_is_an_error_that_says_where_to_put_it() -> None:
    mapped = suricata.map_record(fresh(SURICATA_ALERT), ctx(agency=None))
    [error] = mapped.errors
    assert error.field == "agency" and "?agency=" in error.reason


def test_detection() -> None:
    assert suricata.detect(SURICATA_ALERT) and suricata.detect(SURICATA_DNS)
    assert not suricata.detect({"event_id": "x", "type": "raised"})
    assert not suricata.detect("CEF:0|a")
