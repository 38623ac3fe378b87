"""Turn an ingest request body into records: a JSON array, one JSON object, or NDJSON, maybe gzip.

Pure: bytes in, records out. A line of NDJSON that is not JSON becomes a per-record
error at its index, so one bad line never costs the good ones.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"


class BodyError(ValueError):
    """The body as a whole cannot be read; the message says what to send instead."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    index: int
    value: Any = None
    error: str | None = None  # set when this record could not be parsed
    text: str = ""  # the record as received, for the dead-letter topic


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise BodyError(f"unsupported Content-Encoding {encoding!r}; send gzip or none")
    if encoding in ("gzip", "x-gzip") or body[:2] == GZIP_MAGIC:
        try:
            decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out = decoder.decompress(body, max_bytes + 1)
        except (zlib.error, gzip.BadGzipFile) as error:
            raise BodyError(f"body is not valid gzip: {error}") from None
        if len(out) > max_bytes:
            raise BodyError(f"decompressed body is larger than {max_bytes} bytes; split it")
        return out
    return body


def parse_records(body: bytes) -> list[RawRecord]:
    """Records from a JSON array, a single JSON object, or NDJSON (one JSON value per line)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BodyError(f"body is not UTF-8 ({error}); send UTF-8 JSON or NDJSON") from None
    stripped = text.strip()
    if not stripped:
        raise BodyError("body is empty; send a JSON array or NDJSON, one record per line")
    if stripped[0] == "[":
        try:
            values = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise BodyError(
                f"body starts like a JSON array but is not valid JSON ({error}); "
                "send a valid array, or NDJSON to have each line judged on its own"
            ) from None
        return [
            RawRecord(index=i, value=v, text=json.dumps(v, ensure_ascii=False))
            for i, v in enumerate(values)
        ]
    records = []
    for i, line in enumerate(line for line in stripped.splitlines() if line.strip()):
        try:
            records.append(RawRecord(index=i, value=json.loads(line), text=line))
        except json.JSONDecodeError as error:
            records.append(RawRecord(index=i, error=f"not valid JSON: {error}", text=line))
    return records
