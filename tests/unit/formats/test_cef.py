from datetime import UTC, datetime

import pytest

from ingestors.formats import cef
from ingestors.formats.base import NO_ZONE
from tests.unit.formats.samples import (
    CEF_BACKSLASH,
    CEF_EQUALS,
    CEF_PIPE,
    CEF_SPEC,
    CEF_SYSLOG,
    RECEIVED,
    ctx,
)


def test_the_specifications_example_maps_to_a_raised_event() -> None:
    mapped = cef.map_record(CEF_SPEC, ctx())
    assert not mapped.errors
    [event] = mapped.events
    payload = event["payload"]
    assert payload["severity"] == "critical"  # 10
    assert payload["category"] == "malware"  # "worm successfully stopped"
    assert payload["signature"] == "security threatmanager 100: worm successfully stopped"
    assert (payload["src_ip"], payload["dest_ip"], payload["asset"]) == (
        "10.0.0.1", "2.1.2.2", "2.1.2.2",
    )  # fmt: skip
    # No rt, end, start or syslog header: the receipt time, and the sender is told.
    assert event["occurred_at"] == RECEIVED.isoformat()
    assert [w.kind for w in mapped.warnings] == ["no_time"]


def test_the_specifications_escapes() -> None:
    header, extension = cef.split_header(CEF_PIPE[4:])  # type: ignore[misc]
    assert header[5] == "detected a | in message"
    assert cef.parse_extension(extension) == {
        "src": "10.0.0.1",
        "act": "blocked a |",
        "dst": "1.1.1.1",
    }
    header, extension = cef.split_header(CEF_BACKSLASH[4:])  # type: ignore[misc]
    assert header[5] == "detected a \\ in packet"
    assert cef.parse_extension(extension)["act"] == "blocked a \\"
    _, extension = cef.split_header(CEF_EQUALS[4:])  # type: ignore[misc]
    assert cef.parse_extension(extension)["act"] == "blocked a ="
    assert cef.parse_extension("msg=Detected a threat.\\n No action needed. src=1.2.3.4") == {
        "msg": "Detected a threat.\n No action needed.", "src": "1.2.3.4",
    }  # fmt: skip


def test_a_syslog_relayed_event_with_its_agency_label() -> None:
    mapped = cef.map_record(CEF_SYSLOG, ctx(agency=None))
    assert not mapped.errors and not mapped.warnings
    [event] = mapped.events
    assert event["agency"] == "000.00.31.H42"  # cs1Label=agency
    assert event["occurred_at"] == datetime.fromtimestamp(1795315620, UTC).isoformat()
    payload = event["payload"]
    assert payload["severity"] == "high"
    assert payload["asset"] == "dichvucong.hatinh.gov.vn"  # dhost
    assert payload["category"] == "intrusion"  # "ips" names nothing; the name says injection


def test_the_syslog_header_does_not_change_the_event_id() -> None:
    bare = CEF_SYSLOG[CEF_SYSLOG.index("CEF:") :]
    relayed = "<134>1 2026-11-22T09:47:01+07:00 relay-2 fortigate - - - " + bare
    ids = {
        cef.map_record(line, ctx()).events[0]["event_id"] for line in (CEF_SYSLOG, bare, relayed)
    }
    assert len(ids) == 1


@pytest.mark.parametrize(
    ("severity", "level"),
    [("0", "low"), ("3", "low"), ("4", "medium"), ("6", "medium"), ("7", "high"), ("8", "high"),
     ("9", "critical"), ("10", "critical"), ("Low", "low"), ("Medium", "medium"),
     ("High", "high"), ("Very-High", "critical"), ("very-high", "critical")],
)  # fmt: skip
def test_the_severity_table(severity: str, level: str) -> None:
    line = f"CEF:0|v|p|1|sig|name|{severity}|rt=1795315620000"
    assert cef.map_record(line, ctx()).events[0]["payload"]["severity"] == level


def test_unknown_severity_is_low_with_a_warning() -> None:
    mapped = cef.map_record("CEF:0|v|p|1|sig|name|Unknown|rt=1795315620000", ctx())
    assert mapped.events[0]["payload"]["severity"] == "low"
    assert [w.field for w in mapped.warnings] == ["header.severity"]


@pytest.mark.parametrize("severity", ["11", "-1", "critical", "", "5.5"])
def test_a_severity_outside_the_spec_is_refused(severity: str) -> None:
    mapped = cef.map_record(f"CEF:0|v|p|1|sig|name|{severity}|", ctx())
    assert [e.field for e in mapped.errors] == ["header.severity"]


@pytest.mark.parametrize(
    ("rt", "expected", "warned"),
    [
        ("1795315620000", "2026-11-22T02:47:00+00:00", False),
        ("Nov 22 2026 09:47:00", "2026-11-22T09:47:00+07:00", True),
        ("Nov 22 2026 02:47:00.250 UTC", "2026-11-22T02:47:00.250000+00:00", False),
        ("Nov 22 09:47:00 ICT", "2026-11-22T09:47:00+07:00", False),
        ("Nov 22 2026 09:47:00 GMT+07:00", "2026-11-22T09:47:00+07:00", False),
        ("2026-11-22T09:47:00+07:00", "2026-11-22T09:47:00+07:00", False),
    ],
)
def test_the_time_formats_of_the_spec(rt: str, expected: str, warned: bool) -> None:
    mapped = cef.map_record(f"CEF:0|v|p|1|sig|name|5|rt={rt} src=10.0.0.1", ctx())
    assert datetime.fromisoformat(mapped.events[0]["occurred_at"]) == datetime.fromisoformat(
        expected
    )
    assert [w.kind for w in mapped.warnings] == ([NO_ZONE] if warned else [])


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("CEF:0|v|p|1|sig|name", "header"),
        ("CEF:x|v|p|1|sig|name|5|rt=1795315620000", "header.version"),
        ("CEF:0|v|p|1||name|5|rt=1795315620000", "header.signature_id"),
        ("CEF:0|v|p|1|sig|name|5|rt=Feb 30 2026 09:00:00", "rt"),
        ("CEF:0|v|p|1|sig|name|5|rt=Nov 22 2026 09:00:00 Mars/Olympus", "rt"),
        ("CEF:0|v|p|1|sig|name|5|rt=1795315620000 src=host.example", "src"),
        ("Nov 22 09:00:00 fw nothing to see", ""),
    ],
)
def test_bad_lines_name_the_field(line: str, field: str) -> None:
    mapped = cef.map_record(line, ctx())
    assert field in [e.field for e in mapped.errors], mapped.errors
    assert not mapped.events


def test_bodies_are_lines_or_a_json_array_of_lines() -> None:
    body = f"{CEF_SPEC}\r\n\n{CEF_SYSLOG}\n".encode()
    assert [r.value for r in cef.parse(body)] == [CEF_SPEC, CEF_SYSLOG]
    assert cef.sniff(body) and cef.sniff(b"<134>Nov 22") and not cef.sniff(b'{"a": 1}')
    import json

    assert [r.value for r in cef.parse(json.dumps([CEF_SPEC]).encode())] == [CEF_SPEC]
    assert cef.detect(CEF_SPEC) and cef.detect(CEF_SYSLOG) and not cef.detect({"a": 1})


def test_a_line_that_is_not_utf8_is_refused_alone() -> None:
    records = cef.parse(CEF_SPEC.encode() + b"\n\xff\xfe bad\n" + CEF_SPEC.encode())
    assert [r.error is None for r in records] == [True, False, True]


def test_a_rule_firing_again_later_is_another_event_of_the_same_alert() -> None:
    # No rt, end or start: the syslog header's time is the event's, and tells the
    # firings apart; a relay re-sending one with its time is still one event.
    line = "CEF:0|Fortinet|FortiGate|7|13|Port scan|7|src=203.0.113.9 dst=10.0.0.1"
    first, again, later = (
        cef.map_record(f"<134>Nov 22 {at} fw01 {line}", ctx()).events[0]
        for at in ("09:00:00", "09:00:00", "10:00:00")
    )
    assert first["event_id"] == again["event_id"]
    assert first["event_id"] != later["event_id"]
    assert first["payload"]["alert_id"] == later["payload"]["alert_id"]
    assert first["occurred_at"] != later["occurred_at"]
