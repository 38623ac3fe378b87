"""Property tests of the provincial formats (DVC filing sync record, edXML): arbitrary bytes,
arbitrary JSON and near-valid records never make a parser or mapper fail and always yield
events, errors or a deliberate skip; a snapshot's events only grow as its history does."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestors.body import BodyError, RawRecord
from ingestors.formats import dvc, edxml
from ingestors.formats.base import Mapped
from ingestors.pipeline import judge
from tests.unit.formats.test_dvc import DVC_IN_PROCESS, DVC_RETURNED, HISTORY
from tests.unit.formats.test_dvc import ctx as filings_ctx
from tests.unit.formats.test_edxml import EDXML_MESSAGE, EDXML_STATUS
from tests.unit.formats.test_edxml import ctx as documents_ctx

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
NASTY: list[Any] = [
    None, True, 0, -1, 2**64, 1e308, -0.0, "", " ", "\x00", "\ud800", "x" * 600, [], {},
    "20261332250000", "99991231235959", "19000101000000", "2026-11-22T09:00:00", "11", "04",
    "0", 10.5, "75.000", [{"Gia": "x"}], [{"TrangThai": "2"}], {"OrganId": None},
]  # fmt: skip
scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30)
)
nasty = st.sampled_from(NASTY).map(copy.deepcopy)  # fresh copies: mutations must not stick
json_values = st.recursive(
    scalars | nasty,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
FORMATS = {"dvc": (dvc.FORMAT, filings_ctx), "edxml": (edxml.FORMAT, documents_ctx)}


def _holds(mapped: Any) -> None:
    assert isinstance(mapped, Mapped)
    assert mapped.errors or mapped.events or mapped.skipped is not None, mapped
    if mapped.skipped is not None:
        assert not mapped.events


@SETTINGS
@given(name=st.sampled_from(sorted(FORMATS)), body=st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_a_parser_or_mapper(name: str, body: bytes) -> None:
    fmt, ctx = FORMATS[name]
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
    fmt, ctx = FORMATS[name]
    _holds(fmt.mapper(value, ctx()))


def _mutate(record: Any, data: st.DataObject) -> Any:
    """A sample with a few fields (anywhere in it, lists too) replaced, deleted or made nasty."""
    record = copy.deepcopy(record)
    for _ in range(data.draw(st.integers(1, 4))):
        where = record
        while data.draw(st.booleans()):
            if isinstance(where, dict) and where:
                inner = where[data.draw(st.sampled_from(sorted(where)))]
            elif isinstance(where, list) and where:
                inner = where[data.draw(st.integers(0, len(where) - 1))]
            else:
                break
            if not isinstance(inner, dict | list) or not inner:
                break
            where = inner
        if isinstance(where, list) and where:
            at = data.draw(st.integers(0, len(where) - 1))
            where[at] = data.draw(json_values)
            continue
        if not isinstance(where, dict) or not where:
            break
        key = data.draw(st.sampled_from(sorted(where)))
        action = data.draw(st.sampled_from(["value", "nasty", "delete"]))
        if action == "delete":
            del where[key]
        else:
            where[key] = data.draw(json_values if action == "value" else nasty)
    return record


@SETTINGS
@given(sample=st.sampled_from([DVC_RETURNED, DVC_IN_PROCESS]), data=st.data())
def test_near_valid_snapshots_yield_events_or_errors(sample: Any, data: st.DataObject) -> None:
    record = _mutate(sample, data)
    _holds(dvc.map_record(record, filings_ctx()))
    for fmt in (None, dvc.FORMAT):  # detected or named: one result per record, no exception
        verdict = judge("filings", [RawRecord(0, record)], filings_ctx(), fmt)
        assert len(verdict.results) == 1 == verdict.accepted + verdict.refused


EDXML_VALUES = [edxml.parse(s.encode(), 5)[0].value for s in (EDXML_MESSAGE, EDXML_STATUS)]


@SETTINGS
@given(
    sample=st.sampled_from(EDXML_VALUES),
    data=st.data(),
    agency=st.sampled_from([None, "000.00.12.H42"]),
)
def test_near_valid_edxml_records_yield_events_or_errors(
    sample: Any, data: st.DataObject, agency: str | None
) -> None:
    record = _mutate(sample, data)
    _holds(edxml.map_record(record, documents_ctx(agency)))
    verdict = judge("documents", [RawRecord(0, record)], documents_ctx(agency), edxml.FORMAT)
    assert len(verdict.results) == 1 == verdict.accepted + verdict.refused


@SETTINGS
@given(
    sample=st.sampled_from([EDXML_MESSAGE, EDXML_STATUS]),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from(["<", ">", "&", "/", '"', "<!DOCTYPE a>", "&amp;", "\x00", "é", ""]),
            st.booleans(),
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_damaged_xml_is_refused_or_mapped_never_a_crash(
    sample: str, edits: list[tuple[int, str, bool]]
) -> None:
    text = sample
    for at, insert, delete in edits:
        at %= len(text)
        text = text[:at] + insert + text[at + 1 if delete else at :]
    try:
        records = edxml.parse(text.encode("utf-8", "surrogatepass"), 50)
    except BodyError:
        return
    verdict = judge("documents", records, documents_ctx(), edxml.FORMAT)
    assert len(verdict.results) == len(records) == verdict.accepted + verdict.refused


@SETTINGS
@given(cut=st.integers(1, len(HISTORY)), order=st.randoms(use_true_random=False))
def test_a_snapshot_sent_earlier_or_reordered_adds_no_event_of_its_own(
    cut: int, order: Any
) -> None:
    """The events of any earlier snapshot (a prefix of the history, its status the last step's)
    are among the later snapshot's, and shuffling the history or the keys changes no id."""
    full = {
        e["event_id"] for e in dvc.map_record(copy.deepcopy(DVC_RETURNED), filings_ctx()).events
    }
    earlier = copy.deepcopy(DVC_RETURNED)
    earlier["tienTrinhDongBo"] = copy.deepcopy(HISTORY[:cut])
    earlier |= {
        "TrangThaiHoSo": HISTORY[cut - 1]["TrangThai"],
        "NgayTra": "",
        "NgayKetThucXuLy": "",
    }
    order.shuffle(earlier["tienTrinhDongBo"])
    keys = list(earlier)
    order.shuffle(keys)
    mapped = dvc.map_record(json.loads(json.dumps({k: earlier[k] for k in keys})), filings_ctx())
    assert not mapped.errors, mapped.errors
    assert {e["event_id"] for e in mapped.events} <= full
