"""Turn an ingest request body into records: a JSON array, one JSON object, NDJSON, or text
lines (CEF, syslog), maybe gzip. These are the framings the formats' parsers are made of
(`ingestors.formats`); an XML format brings its own.

Pure: bytes in, records out, and bounded on every path, so no body can make ingest fail
with anything but a `BodyError` (the request is refused whole) or a per-record error:

- size: the body, and again the body after gunzip (every gzip member counted), are at
  most `max_bytes`; a gzip stream cut short or followed by anything that is not another
  gzip member is refused, never read in part;
- records: at most `max_records`, counted while parsing, not after;
- JSON (orjson): nesting at most 1024 deep, no lone UTF-16 surrogates, no invalid
  UTF-8, no NaN/Infinity; a number too large for a double is refused, and an integer
  beyond 64 bits comes back as a float (never a 4,300-digit Python int);
- strings: bounded by the body size here; the event model bounds each field.

A line of NDJSON that is not JSON becomes a per-record error at its index, so one bad
line never costs the good ones; a JSON array that is not JSON is refused whole. A text
line that is not UTF-8 is likewise refused on its own.
"""

from __future__ import annotations

import codecs
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

GZIP_MAGIC = b"\x1f\x8b"
MAX_DEPTH = 1024  # orjson's own nesting limit, stated here so the docs can say it


class BodyError(ValueError):
    """The body as a whole cannot be read; the message says what to send instead."""


class TooManyRecords(BodyError):
    """The body holds more records than one request may carry."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record of a body, as its format's parser framed it.

    `value` is what the mapper gets: a parsed JSON value, a text line (str), or
    whatever an XML parser yields for one element. `raw` is the record's bytes as
    received (an NDJSON or text line, an XML element) when the parser has them; None
    for a JSON array element, whose text is re-serialised only when asked.
    """

    index: int
    value: Any = None
    error: str | None = None  # set when this record could not be parsed
    raw: bytes | None = None

    @property
    def text(self) -> str:
        """The record as received (its line, or its array element re-serialised), for the
        dead-letter topic. Computed only when asked, for refused records; never raises.
        """
        if self.raw is not None:
            return self.raw.decode("utf-8", errors="replace")
        return dumps_any(self.value)


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body, gunzipped when it says (or looks) so; at most `max_bytes` either way."""
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise BodyError(f"unsupported Content-Encoding {encoding!r}; send gzip or none")
    if encoding in ("gzip", "x-gzip") or body[:2] == GZIP_MAGIC:
        return _gunzip(body, max_bytes)
    return body


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    """Every member of a gzip stream (RFC 1952 allows several, concatenated), all of it or
    nothing: a stream cut short, or followed by bytes that are not gzip, is refused."""
    out = bytearray()
    data = body
    member = 0
    while True:
        member += 1
        decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            # The limit is always >= 1 here (0 would mean "unlimited" to zlib).
            out += decoder.decompress(data, max_bytes + 1 - len(out))
        except zlib.error as error:
            if member == 1:
                raise BodyError(f"body is not valid gzip: {error}") from None
            raise BodyError(
                f"body has {len(data)} bytes after the end of its gzip stream that are not "
                f"another gzip member ({error}); send only the gzip stream"
            ) from None
        if len(out) > max_bytes:
            raise BodyError(f"decompressed body is larger than {max_bytes} bytes; split it")
        if not decoder.eof:
            raise BodyError(
                f"gzip stream is cut short (member {member} does not end); "
                "send the whole compressed body"
            )
        data = decoder.unused_data
        if not data:
            return bytes(out)


def parse_records(body: bytes, max_records: int | None = None) -> list[RawRecord]:
    """Records from a JSON array, a single JSON object, or NDJSON (one JSON value per line).

    Raises BodyError when the body as a whole cannot be read, TooManyRecords past
    `max_records`.
    """
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(f"body is not UTF-8 ({error}); send UTF-8 JSON or NDJSON") from None
    stripped = body.strip()
    if not stripped:
        raise BodyError("body is empty; send a JSON array or NDJSON, one record per line")
    if stripped[:1] == b"[":
        try:
            values = orjson.loads(stripped)
        except orjson.JSONDecodeError as error:
            raise BodyError(
                f"body starts like a JSON array but is not valid JSON ({error}); "
                "send a valid array, or NDJSON to have each line judged on its own"
            ) from None
        if max_records is not None and len(values) > max_records:
            raise TooManyRecords(f"more than {max_records} records; split them")
        return [RawRecord(index=i, value=v) for i, v in enumerate(values)]
    records: list[RawRecord] = []
    # Only "\n" ends a line (NDJSON); "\r\n" works too. str.splitlines would also cut at
    # U+2028 and other characters that are legal inside a JSON string.
    for line in stripped.split(b"\n"):
        if not line.strip():
            continue
        if max_records is not None and len(records) == max_records:
            raise TooManyRecords(f"more than {max_records} records; split them")
        line = line.rstrip(b"\r")
        try:
            records.append(RawRecord(index=len(records), value=orjson.loads(line), raw=line))
        except orjson.JSONDecodeError as error:
            records.append(
                RawRecord(index=len(records), error=f"not valid JSON: {error}", raw=line)
            )
    return records


def parse_lines(body: bytes, max_records: int | None = None) -> list[RawRecord]:
    """One record per non-blank line (ending at "\n", "\r\n" too), its value the line as
    text. A line that is not UTF-8 is a record error of its own; only an empty body is
    refused whole (BodyError), and more than `max_records` lines (TooManyRecords).
    """
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    records: list[RawRecord] = []
    for line in body.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        if max_records is not None and len(records) == max_records:
            raise TooManyRecords(f"more than {max_records} records; split them")
        try:
            records.append(RawRecord(index=len(records), value=line.decode("utf-8"), raw=line))
        except UnicodeDecodeError as error:
            records.append(
                RawRecord(index=len(records), error=f"line is not UTF-8 ({error})", raw=line)
            )
    if not records:
        raise BodyError("body is empty; send one record per line")
    return records


def head(body: bytes, size: int = 64) -> bytes:
    """The body's first `size` bytes after a byte order mark and leading whitespace: what
    formats sniff their framing from."""
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    return body[: size + 4096].lstrip()[:size]


class _Token(str):
    """Punctuation already in JSON form, on `dumps_any`'s stack."""


def dumps_any(value: Any) -> str:
    """`value` (as parsed from JSON) as JSON text; never raises.

    orjson re-serialises at most 254 levels deep while it parses up to 1024, so deeper
    values are written by an iterative encoder instead of failing (or recursing).
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        pass
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Token):
            parts.append(item)
        elif isinstance(item, list):
            stack.append(_Token("]"))
            for i, element in enumerate(reversed(item)):
                stack.append(element)
                if i < len(item) - 1:
                    stack.append(_Token(","))
            stack.append(_Token("["))
        elif isinstance(item, dict):
            stack.append(_Token("}"))
            entries = list(item.items())
            for i, (key, element) in enumerate(reversed(entries)):
                stack.append(element)
                stack.append(_Token(_scalar(str(key)) + ":"))
                if i < len(entries) - 1:
                    stack.append(_Token(","))
            stack.append(_Token("{"))
        else:
            parts.append(_scalar(item))
    return "".join(parts)


def _scalar(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # not a JSON value (or a str with a lone surrogate): say what it was
        return orjson.dumps(ascii(value)).decode()
