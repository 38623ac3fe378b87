import gzip
import json

import pytest

from ingestors.body import BodyError, decompress, parse_records


def test_a_json_array_gives_one_record_per_element() -> None:
    records = parse_records(json.dumps([{"a": 1}, {"b": 2}]).encode())
    assert [r.value for r in records] == [{"a": 1}, {"b": 2}]
    assert [r.index for r in records] == [0, 1]


def test_ndjson_judges_each_line_on_its_own() -> None:
    records = parse_records(b'{"a": 1}\n\n{"b": \n{"c": 3}\n')
    assert [r.value for r in records] == [{"a": 1}, None, {"c": 3}]
    assert records[1].error is not None and records[1].error.startswith("not valid JSON")
    assert records[1].text == '{"b": '


def test_a_single_object_is_one_record() -> None:
    assert [r.value for r in parse_records(b' {"a": 1} ')] == [{"a": 1}]


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "body is empty"), (b"[{]", "not valid JSON"), (b"\xff\xfe", "not UTF-8")],
)
def test_unreadable_bodies_say_what_to_send(body: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message):
        parse_records(body)


def test_gzip_is_recognised_by_header_or_by_magic() -> None:
    packed = gzip.compress(b'{"a": 1}')
    assert decompress(packed, "gzip", 1000) == b'{"a": 1}'
    assert decompress(packed, None, 1000) == b'{"a": 1}'
    assert decompress(b"plain", None, 1000) == b"plain"


def test_gzip_bombs_and_unknown_encodings_are_refused() -> None:
    with pytest.raises(BodyError, match="larger than"):
        decompress(gzip.compress(b"0" * 10_000), "gzip", 1000)
    with pytest.raises(BodyError, match="Content-Encoding"):
        decompress(b"x", "br", 1000)
    with pytest.raises(BodyError, match="not valid gzip"):
        decompress(b"\x1f\x8bnonsense", "gzip", 1000)
