"""Property tests: no bytes, JSON or near-valid record makes a parser or mapper fail; every
record yields events, errors, or a deliberate skip, and the pipeline conserves records."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestors.body import BodyError, RawRecord
from ingestors.formats import FORMATS, Mapped
from ingestors.pipeline import judge, read_body
from tests.unit.formats.samples import (
    CEF_SPEC,
    CEF_SYSLOG,
    ECS_ALERT,
    ECS_EVENT,
    SURICATA_ALERT,
    SURICATA_DNS,
    WAZUH_ALERT,
    ctx,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
SAMPLES: dict[str, list[Any]] = {
    "suricata": [SURICATA_ALERT, SURICATA_DNS],
    "wazuh": [WAZUH_ALERT],
    "ecs": [ECS_ALERT, ECS_EVENT],
    "cef": [CEF_SPEC, CEF_SYSLOG],
}
NASTY: list[Any] = [
    None, True, 0, -1, 2**64, 1e308, -0.0, "", " ", "\x00", "\ud800", "x" * 600, [], {},
    "2026-11-22T09:00:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00Z", "::1",
    "999.1.1.1", "CEF:0|", "|||||||", "\\", "=", "Nov 31 2026 09:00:00", 10**20,
]  # fmt: skip

scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30)
)
json_values = st.recursive(
    scalars | st.sampled_from(NASTY),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def _holds(mapped: Any) -> None:
    assert isinstance(mapped, Mapped)
    assert mapped.errors or mapped.events or mapped.skipped is not None, mapped
    if mapped.skipped is not None:
        assert not mapped.events


@SETTINGS
@given(name=st.sampled_from(sorted(FORMATS)), body=st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_a_parser_or_mapper(name: str, body: bytes) -> None:
    fmt = FORMATS[name]
    try:
        records = fmt.parser(body, 50)
    except BodyError:
        return
    for record in records:
        if record.error is None:
            _holds(fmt.mapper(record.value, ctx()))


@SETTINGS
@given(name=st.sampled_from(sorted(FORMATS)), value=json_values)
def test_arbitrary_json_never_crashes_a_mapper(name: str, value: Any) -> None:
    _holds(FORMATS[name].mapper(value, ctx()))


@SETTINGS
@given(
    line=st.text(max_size=200), prefix=st.sampled_from(["", "CEF:", "CEF:0|", "<134>", "<13>1 "])
)
def test_arbitrary_text_never_crashes_the_cef_mapper(line: str, prefix: str) -> None:
    _holds(FORMATS["cef"].mapper(prefix + line, ctx()))


def _mutate(record: Any, data: st.DataObject) -> Any:
    """A sample with a few fields (anywhere in it) replaced, deleted, or made nasty."""
    record = copy.deepcopy(record)
    for _ in range(data.draw(st.integers(1, 4))):
        where = record
        while isinstance(where, dict) and where and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(where)))
            if not isinstance(where[key], dict) or not where[key]:
                break
            where = where[key]
        if not isinstance(where, dict) or not where:
            break
        key = data.draw(st.sampled_from(sorted(where)))
        action = data.draw(st.sampled_from(["value", "nasty", "delete"]))
        if action == "delete":
            del where[key]
        else:
            where[key] = data.draw(json_values if action == "value" else st.sampled_from(NASTY))
    return record


def _mutate_cef(line: str, data: st.DataObject) -> str:
    chars = list(line)
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(chars)))
        chars.insert(at, data.draw(st.sampled_from(["|", "\\", "=", " ", "\n", "\x00", "é", "9"])))
        if chars and data.draw(st.booleans()):
            del chars[data.draw(st.integers(0, len(chars) - 1))]
    return "".join(chars)


@SETTINGS
@given(name=st.sampled_from(sorted(SAMPLES)), data=st.data())
def test_near_valid_records_yield_events_or_errors(name: str, data: st.DataObject) -> None:
    sample = data.draw(st.sampled_from(SAMPLES[name]))
    record = _mutate_cef(sample, data) if isinstance(sample, str) else _mutate(sample, data)
    _holds(FORMATS[name].mapper(record, ctx()))
    # And through the pipeline, detected or named: one result per record, never an exception.
    for fmt in (None, FORMATS[name]):
        verdict = judge("security", [RawRecord(0, record)], ctx(), fmt)
        assert len(verdict.results) == 1 == verdict.accepted + verdict.refused


@SETTINGS
@given(body=st.binary(max_size=400), source=st.sampled_from(["security", "filings"]))
def test_the_pipeline_conserves_records(body: bytes, source: str) -> None:
    try:
        parsed = read_body(source, body, None, 50)
    except BodyError:
        return
    verdict = judge(source, parsed.records, ctx(), parsed.format)
    assert verdict.accepted + verdict.refused == len(parsed.records) == len(verdict.results)
    assert len(verdict.rejected) == verdict.refused
