"""How `ioc replay --format` cuts a source system's file into requests."""

from __future__ import annotations

import pytest

from ingestors import replay
from ingestors.replay import bodies


def test_a_document_goes_whole_and_lines_go_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    xml = b'  <?xml version="1.0"?>\n<edXML><Header/></edXML>\n'
    assert bodies(xml) == [(xml, "application/xml", 1)]
    array = b'[{"a": 1},\n {"a": 2}]'
    assert bodies(array) == [(array, "application/json", 1)]
    monkeypatch.setattr(replay, "LINES_PER_REQUEST", 2)
    lines = b"CEF:0|a\n\nCEF:0|b\r\nCEF:0|c\n"  # a blank line is no record
    assert bodies(lines) == [
        (b"CEF:0|a\nCEF:0|b\r\n", "text/plain", 2),
        (b"CEF:0|c\n", "text/plain", 1),
    ]
    assert bodies(b"\n  \n") == []


def test_a_document_too_large_for_one_request_says_to_split_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay, "MAX_DOCUMENT_BYTES", 10)
    with pytest.raises(ValueError, match="split it into several files"):
        bodies(b"<edXML>" + b" " * 20 + b"</edXML>")
