from typing import Any

import pytest

from ingestors.formats import ecs
from tests.unit.formats.samples import ECS_ALERT, ECS_EVENT, ctx, fresh


def test_an_elastic_security_alert_becomes_a_raised_event() -> None:
    mapped = ecs.map_record(fresh(ECS_ALERT), ctx())
    assert not mapped.errors and not mapped.warnings
    [event] = mapped.events
    assert event["event_id"] == "ecs-c2f3a0e4-5b1d-4c7e-9a4b-1f2e3d4c5b6a"
    assert event["agency"] == "000.00.15.H42"  # organization.id
    assert event["occurred_at"] == "2026-11-22T02:48:00+00:00"
    payload = event["payload"]
    assert (payload["severity"], payload["category"]) == ("high", "malware")
    assert payload["asset"] == "vpub-pc-017"
    assert payload["signature"] == "9a1a2dae-0b5f-4c3d-8305-a268d404c306: Malware Prevention Alert"


def test_dotted_keys_work_like_nested_objects() -> None:
    flat = {
        "@timestamp": "2026-11-22T02:48:00Z",
        "event.kind": "alert",
        "event.severity": 21,
        "event.category": "intrusion_detection",
        "rule.name": "Port scan",
        "source.ip": "203.0.113.7",
        "organization.id": "000.00.31.H42",
    }
    assert ecs.detect(flat)
    [event] = ecs.map_record(flat, ctx()).events
    assert event["payload"]["severity"] == "low"
    assert event["payload"]["category"] == "intrusion"
    assert event["event_id"].startswith("ecs-")  # no event.id: from the content


@pytest.mark.parametrize(
    ("severity", "level"),
    [(0, "low"), (21, "low"), (39, "low"), (40, "medium"), (47, "medium"), (69, "medium"),
     (70, "high"), (73, "high"), (89, "high"), (90, "critical"), (99, "critical"),
     (100, "critical"), (73.0, "high")],
)  # fmt: skip
def test_the_severity_table(severity: Any, level: str) -> None:
    record = fresh(ECS_ALERT)
    record["event"]["severity"] = severity
    assert ecs.map_record(record, ctx()).events[0]["payload"]["severity"] == level


def test_a_severity_word_wins() -> None:
    record = {**fresh(ECS_ALERT), "kibana.alert.severity": "critical"}
    assert ecs.map_record(record, ctx()).events[0]["payload"]["severity"] == "critical"


@pytest.mark.parametrize("severity", [101, -1, "high", None, 7.5])
def test_a_severity_outside_0_100_is_refused(severity: Any) -> None:
    record = fresh(ECS_ALERT)
    record["event"]["severity"] = severity
    assert [e.field for e in ecs.map_record(record, ctx()).errors] == ["event.severity"]


def test_other_kinds_are_counted_not_alerted() -> None:
    mapped = ecs.map_record(fresh(ECS_EVENT), ctx())
    assert (mapped.events, mapped.errors, mapped.skipped) == ([], [], "event")
    assert ecs.map_record({**ECS_EVENT, "event": {"kind": "weird"}}, ctx()).skipped == "other"


def test_a_timestamp_without_a_zone_is_vietnam_time() -> None:
    mapped = ecs.map_record({**fresh(ECS_ALERT), "@timestamp": "2026-11-22T09:48:00"}, ctx())
    assert mapped.events[0]["occurred_at"] == "2026-11-22T09:48:00+07:00"
    assert [w.field for w in mapped.warnings] == ["@timestamp"]


def test_detection() -> None:
    assert ecs.detect(ECS_ALERT) and ecs.detect(ECS_EVENT)
    assert not ecs.detect({"event": {"kind": "alert"}})  # neither @timestamp nor ecs
