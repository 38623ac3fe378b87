import gzip
import json

import pytest

from ingestors import body
from ingestors.body import BodyError, TooManyRecords, decompress, dumps_any, parse_records


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


# Each of these used to answer HTTP 500 (or to take a body in part) before the body
# parser was bounded on every path.


def test_a_5000_digit_integer_in_an_ndjson_line_is_a_record_error() -> None:
    records = parse_records(b'{"fee": ' + b"7" * 5000 + b'}\n{"a": 1}')
    assert records[0].error is not None and records[0].error.startswith("not valid JSON")
    assert records[1].value == {"a": 1}


def test_a_5000_digit_integer_in_an_array_is_a_body_error() -> None:
    with pytest.raises(BodyError, match="not valid JSON"):
        parse_records(b'[{"fee": ' + b"7" * 5000 + b"}]")


def test_an_integer_beyond_64_bits_never_becomes_a_huge_python_int() -> None:
    [record] = parse_records(b'{"fee": ' + b"9" * 30 + b"}")
    assert isinstance(record.value["fee"], float)


@pytest.mark.parametrize(("opening", "closing"), [(b"[", b"]"), (b'{"a":', b"}")])
def test_json_nested_10000_deep_is_a_record_error_in_ndjson(opening: bytes, closing: bytes) -> None:
    deep = opening * 10_000 + b"1" + closing * 10_000
    records = parse_records(b'{"a": 1}\n' + deep)
    assert records[0].value == {"a": 1}
    assert records[1].error is not None and "depth" in records[1].error
    assert len(records[1].text) == len(deep)


def test_json_nested_10000_deep_as_an_array_body_is_a_body_error() -> None:
    with pytest.raises(BodyError, match="not valid JSON"):
        parse_records(b"[" * 10_000 + b"]" * 10_000)


def test_a_value_nested_deeper_than_orjson_writes_still_has_its_text() -> None:
    deep = "[" * 1000 + '{"k": ["x\\u0000", 1.5, null, true, {}]}' + "]" * 1000
    [record] = parse_records(("[" + deep + "]").encode())
    # No RecursionError, no TypeError: the same JSON, written compactly.
    assert record.text == deep.replace(" ", "")


def test_dumps_any_never_raises() -> None:
    assert dumps_any({"a": "\ud800"}) == '{"a":"\'\\\\ud800\'"}'
    assert dumps_any([{"a": [1, {"b": None}]}] * 2) == '[{"a":[1,{"b":null}]},{"a":[1,{"b":null}]}]'


def test_a_lone_surrogate_escape_is_refused() -> None:
    [record] = parse_records(b'{"event_id": "\\ud800"}')
    assert record.error is not None and "surrogate" in record.error
    with pytest.raises(BodyError):
        parse_records(b'[{"event_id": "\\udc00"}]')


def test_nan_and_infinity_are_not_json() -> None:
    records = parse_records(b'{"a": NaN}\n{"a": Infinity}\n{"a": 1e400}')
    assert all(r.error for r in records)


def test_the_text_of_an_array_element_is_computed_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    monkeypatch.setattr(body, "dumps_any", lambda value: calls.append(value) or "x")
    records = parse_records(b'[{"a": 1}, {"b": 2}]')
    assert calls == []
    assert records[1].text == "x" and calls == [{"b": 2}]


def test_ndjson_lines_end_only_at_newline() -> None:
    # U+2028 is legal inside a JSON string; str.splitlines used to cut the record there.
    records = parse_records('{"a": "x\u2028y"}\r\n{"b": 1}\n'.encode())
    assert [r.value for r in records] == [{"a": "x\u2028y"}, {"b": 1}]
    assert records[0].text == '{"a": "x\u2028y"}'


def test_a_byte_order_mark_is_skipped() -> None:
    assert [r.value for r in parse_records(b'\xef\xbb\xbf[{"a": 1}]')] == [{"a": 1}]


def test_too_many_records_are_refused_while_parsing() -> None:
    with pytest.raises(TooManyRecords, match="more than 2 records"):
        parse_records(b"1\n2\n3\n", max_records=2)
    with pytest.raises(TooManyRecords):
        parse_records(b"[1, 2, 3]", max_records=2)
    assert len(parse_records(b"1\n\n2\n", max_records=2)) == 2


def test_two_gzip_members_are_both_read() -> None:
    packed = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"b": 2}\n')
    assert decompress(packed, "gzip", 1000) == b'{"a": 1}\n{"b": 2}\n'
    assert [r.value for r in parse_records(decompress(packed, None, 1000))] == [
        {"a": 1},
        {"b": 2},
    ]


def test_the_size_bound_counts_every_gzip_member() -> None:
    packed = gzip.compress(b"1" * 600) + gzip.compress(b"2" * 600)
    with pytest.raises(BodyError, match="larger than 1000"):
        decompress(packed, "gzip", 1000)
    assert len(decompress(packed, "gzip", 1200)) == 1200


def test_a_gzip_body_cut_short_is_refused() -> None:
    packed = gzip.compress(b'{"a": 1}\n' * 100)
    for cut in (len(packed) - 1, len(packed) - 8, len(packed) // 2, 3):
        with pytest.raises(BodyError, match=r"cut short|not valid gzip"):
            decompress(packed[:cut], "gzip", 10_000)
    with pytest.raises(BodyError, match="cut short"):
        decompress(gzip.compress(b"1") + gzip.compress(b"2")[:-4], "gzip", 10_000)


def test_trailing_garbage_after_the_gzip_stream_is_refused() -> None:
    with pytest.raises(BodyError, match="after the end of its gzip stream"):
        decompress(gzip.compress(b'{"a": 1}') + b"garbage!", "gzip", 1000)
    with pytest.raises(BodyError):
        decompress(gzip.compress(b'{"a": 1}') + b"\x00\x00", "gzip", 1000)


def test_an_empty_gzip_body_is_refused() -> None:
    with pytest.raises(BodyError, match="cut short"):
        decompress(b"", "gzip", 1000)
