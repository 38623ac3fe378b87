"""The pipeline without HTTP: choosing the format, judging each record, conservation."""

import json
from typing import Any

import pytest

from ingestors import formats
from ingestors.body import BodyError, RawRecord
from ingestors.formats import FORMATS, Format, MapContext, Mapped, UnknownFormat, format_named
from ingestors.pipeline import judge, read_body
from tests.records import alert
from tests.unit.formats.samples import (
    CEF_SPEC,
    CEF_SYSLOG,
    ECS_ALERT,
    SURICATA_ALERT,
    SURICATA_DNS,
    WAZUH_ALERT,
    ctx,
)


def _run(body: bytes, format_name: str | None = None, source: str = "security") -> Any:
    parsed = read_body(source, body, format_name, 1000)
    return judge(source, parsed.records, ctx(), parsed.format, detected=parsed.detected)


def _ndjson(*records: Any) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


def test_each_record_is_detected_and_the_response_says_which_format() -> None:
    verdict = _run(_ndjson(SURICATA_ALERT, SURICATA_DNS, WAZUH_ALERT, ECS_ALERT, CEF_SPEC,
                           alert("e1", "A-1")))  # fmt: skip
    body = verdict.response()
    assert [r["format"] for r in body["results"]] == [
        "suricata", "suricata", "wazuh", "ecs", "cef", "canonical",
    ]  # fmt: skip
    assert body["format"] == "mixed" and body["detected"] is True
    assert body["formats"] == {"canonical": 1, "cef": 1, "ecs": 1, "suricata": 2, "wazuh": 1}
    assert (body["accepted"], body["rejected"], body["events"]) == (6, 0, 5)
    assert body["results"][1]["event_ids"] == [] and "dns" in body["results"][1]["note"]
    assert verdict.skipped == {("suricata", "dns"): 1}


def test_one_format_is_named_once() -> None:
    body = _run(_ndjson(SURICATA_ALERT, SURICATA_ALERT)).response()
    assert (body["format"], body["detected"]) == ("suricata", True)
    body = _run(_ndjson(SURICATA_ALERT), "Suricata").response()
    assert (body["format"], body["detected"]) == ("suricata", False)


def test_a_named_format_judges_every_record_by_itself() -> None:
    body = _run(_ndjson(SURICATA_ALERT, WAZUH_ALERT), "suricata").response()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert body["results"][1]["errors"] == ["event_type: must be text, got None"]


def test_a_cef_body_is_sniffed_and_read_line_by_line() -> None:
    body = _run(f"{CEF_SYSLOG}\n{CEF_SPEC}\nnot cef at all\n".encode()).response()
    assert (body["format"], body["detected"]) == ("cef", True)
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted", "rejected"]
    assert body["results"][2]["errors"] == ["not CEF: no 'CEF:' in the line"]


def test_good_and_bad_records_of_one_request_are_judged_apart() -> None:
    bad_level = {**WAZUH_ALERT, "rule": {**WAZUH_ALERT["rule"], "level": 99}}
    body = _ndjson(WAZUH_ALERT) + b"\n{broken\n" + _ndjson(bad_level, WAZUH_ALERT)
    verdict = _run(body)
    result = verdict.response()
    assert [r["status"] for r in result["results"]] == [
        "accepted", "rejected", "rejected", "accepted",
    ]  # fmt: skip
    assert result["results"][2]["errors"] == ["rule.level: must be a whole number 0-16, got 99"]
    assert result["accepted"] + result["rejected"] == 4
    # The refused records go to the dead-letter topic as they were sent, with the reasons.
    assert [r.raw for r in verdict.rejected] == ["{broken", json.dumps(bad_level)]
    assert verdict.rejected[1].errors == result["results"][2]["errors"]


def test_a_warning_reaches_the_result() -> None:
    record = {**SURICATA_ALERT, "timestamp": "2026-11-22T09:45:00"}
    result = _run(_ndjson(record)).response()
    assert result["warnings"] == 1
    assert result["results"][0]["warnings"] == [
        "timestamp: has no time zone; taken as Asia/Ho_Chi_Minh (UTC+07:00)"
    ]


def test_canonical_records_are_judged_as_before() -> None:
    naive = {**alert("e1", "A-1"), "occurred_at": "2026-11-22T09:00:00"}
    result = _run(_ndjson(alert("e0", "A-0"), naive)).response()
    assert result["results"][0]["event_ids"] == ["e0"]
    assert result["results"][1]["errors"] == ["occurred_at: Input should have timezone info"]


def test_a_mapped_event_that_is_not_valid_names_the_senders_field() -> None:
    result = _run(_ndjson({**SURICATA_ALERT, "agency": "H42"})).response()
    [error] = result["results"][0]["errors"]
    assert error.startswith("agency: String should match pattern") and "(as agency)" in error


def test_formats_belong_to_sources() -> None:
    with pytest.raises(UnknownFormat, match="'suricata' is for security, not filings"):
        format_named("filings", "suricata")
    with pytest.raises(UnknownFormat, match="unknown format 'nmap'; formats for security: "):
        format_named("security", "nmap")
    assert format_named("filings", " Canonical ") is FORMATS["canonical"]
    assert format_named("filings", None) is None
    # A filings body is never read as CEF, and a security record is canonical there.
    assert _run(CEF_SPEC.encode(), source="filings").response()["formats"] == {"canonical": 1}


def test_unreadable_bodies_are_still_refused_whole() -> None:
    with pytest.raises(BodyError):
        _run(b"[{broken")
    with pytest.raises(BodyError):
        _run(b"  ", "cef")


def _fake(mapper: Any) -> Format:
    return Format(name="fake", title="fake", sources=frozenset({"security"}),
                  parser=formats.canonical.FORMAT.parser, mapper=mapper)  # fmt: skip


def test_one_record_may_become_several_events_or_none() -> None:
    two = _fake(lambda record, c: Mapped(events=[alert("x1", "A"), alert("x2", "A")]))
    verdict = judge("security", [RawRecord(0, {})], ctx(), two)
    assert verdict.response()["results"][0]["event_ids"] == ["x1", "x2"]
    bad = _fake(
        lambda record, c: Mapped(events=[alert("x1", "A"), {**alert("x2", "A"), "type": "?"}])
    )
    verdict = judge("security", [RawRecord(0, {})], ctx(), bad)
    assert not verdict.events  # all or nothing per record
    assert verdict.response()["results"][0]["errors"][0].startswith("event 2 of 2: type:")


def test_a_mapper_that_raises_costs_its_record_only() -> None:
    def broken(record: Any, c: MapContext) -> Mapped:
        raise KeyError("boom")

    verdict = judge("security", [RawRecord(0, {}), RawRecord(1, {})], ctx(), _fake(broken))
    assert verdict.status == 422 and verdict.refused == 2
    assert "could not read it (KeyError)" in verdict.results[0]["errors"][0]
