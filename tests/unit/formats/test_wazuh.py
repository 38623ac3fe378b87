from typing import Any

import pytest

from ingestors.formats import wazuh
from tests.unit.formats.samples import WAZUH_ALERT, ctx, fresh


def test_an_alert_becomes_one_raised_security_event() -> None:
    mapped = wazuh.map_record(fresh(WAZUH_ALERT), ctx())
    assert not mapped.errors and not mapped.warnings
    [event] = mapped.events
    assert event["event_id"] == "wazuh-wazuh-manager-1763779572.2234"
    assert event["occurred_at"] == "2026-11-22T09:46:12.345000+07:00"
    assert event["agency"] == "000.00.12.H42"  # the agent's label wins over ?agency=
    payload = event["payload"]
    assert payload["severity"] == "low"  # level 5
    assert payload["category"] == "intrusion"  # authentication_failed
    assert payload["signature"] == "5710: sshd: Attempt to login using a non-existent user"
    assert payload["asset"] == "motcua-web-01"
    assert (payload["src_ip"], payload["dest_ip"]) == ("203.0.113.9", "10.20.0.21")
    assert payload["alert_id"].startswith("wazuh-5710-")


@pytest.mark.parametrize(
    ("level", "severity"),
    [(0, "low"), (3, "low"), (6, "low"), (7, "medium"), (11, "medium"), (12, "high"),
     (14, "high"), (15, "critical"), (16, "critical"), ("12", "high")],
)  # fmt: skip
def test_the_level_table(level: Any, severity: str) -> None:
    record = fresh(WAZUH_ALERT)
    record["rule"]["level"] = level
    assert wazuh.map_record(record, ctx()).events[0]["payload"]["severity"] == severity


def test_every_level_has_exactly_one_severity() -> None:
    assert [wazuh.severity(level) for level in range(17)] == (
        ["low"] * 7 + ["medium"] * 5 + ["high"] * 3 + ["critical"] * 2
    )


@pytest.mark.parametrize("level", [17, -1, 1.5, True, None, "high"])
def test_a_level_outside_0_16_is_refused(level: Any) -> None:
    record = fresh(WAZUH_ALERT)
    record["rule"]["level"] = level
    mapped = wazuh.map_record(record, ctx())
    assert [e.field for e in mapped.errors] == ["rule.level"] and not mapped.events


def test_without_an_id_the_event_id_comes_from_the_content() -> None:
    record = fresh(WAZUH_ALERT)
    del record["id"]
    one = wazuh.map_record(record, ctx()).events[0]["event_id"]
    assert (
        one.startswith("wazuh-")
        and one == wazuh.map_record(fresh(record), ctx()).events[0]["event_id"]
    )


def test_without_a_label_the_agency_is_the_requests() -> None:
    record = fresh(WAZUH_ALERT)
    del record["agent"]["labels"]
    assert wazuh.map_record(record, ctx()).events[0]["agency"] == "000.00.31.H42"
    mapped = wazuh.map_record(record, ctx(agency=None))
    assert [e.field for e in mapped.errors] == ["agent.labels.agency"]


def test_a_bad_source_address_is_refused_by_name() -> None:
    record = fresh(WAZUH_ALERT)
    record["data"]["srcip"] = "203.0.113.999"
    assert [e.field for e in wazuh.map_record(record, ctx()).errors] == ["data.srcip"]


def test_detection() -> None:
    assert wazuh.detect(WAZUH_ALERT)
    assert not wazuh.detect({"rule": {"level": 3}})  # no agent, manager or decoder
    assert not wazuh.detect({"event_id": "x"})
