"""Input formats: each one a parser plus a mapper, one module per format, one registry.

The interface (`ingestors.formats.base`), which every format and every transport share:

- **Parser** `(body: bytes, max_records: int | None) -> list[RawRecord]`: the body's
  framing, and nothing about its meaning. `ingestors.body` has the framings shared
  so far: `parse_records` (a JSON array, one JSON object, or NDJSON) and `parse_lines`
  (text lines: CEF, syslog). A body that cannot be read as a whole raises `BodyError`
  (the request is a 400 and the body is dead-lettered) or `TooManyRecords` (413); a
  record that cannot be read is a `RawRecord` with `error` set, refused on its own
  while the others go on. Each `RawRecord` keeps its bytes as received (`raw`) for the
  dead-letter topic. An XML format brings its own parser: a hardened one (no entity
  expansion, no external entities, bounded size and depth), one record per message or
  status packet, `value` whatever its mapper wants (e.g. an element tree), `raw` the
  element's bytes.
- **Mapper** `(record, MapContext) -> Mapped`: one parsed record -> zero or more
  canonical records (`Mapped.events`, dicts in IOC's canonical shape), or per-record
  errors (`Mapped.errors`, `Issue(field, reason)` in the source's own field names), plus
  warnings (a date without a time zone, taken as Asia/Ho_Chi_Minh) and, for a valid
  record that maps to nothing on purpose, `skipped` (a fixed word, counted in
  `ioc_ingest_skipped_records_total`) with a `note`. A filing snapshot that carries a
  whole history maps to one event per step, each with an id derived from its content
  (`content_id`), so a snapshot sent again adds nothing. Mappers are pure: no I/O, the
  receipt time comes in `MapContext.received_at`; they never raise on bad input.
- **Format** = name, title, the sources it may be sent to, parser, mapper, and how it is
  recognised when `?format=` is omitted: `sniff(head)` from the body's first bytes for a
  framing other than JSON (XML, CEF/syslog lines), else `detect(record)` per record
  among the JSON formats of the source, the canonical format when none says yes.

The pipeline (`ingestors.pipeline`) is what every transport calls — the HTTP receiver,
replay (through HTTP), the syslog listener and the poller: `read_body` (choose the
format, parse), `judge` (map, validate each mapped event as canonical, refuse the whole
record on any error, build each record's result), then `Publisher.publish` (key by
entity id, produce, dead-letter the refused with their raw bytes and reasons). A
transport that frames records itself (syslog) builds `RawRecord`s and calls `judge`.

To add a format: a module here with `FORMAT = Format(...)`, one line in `FORMATS` below
(order matters for `detect`: the more specific first), unit tests on samples written
from the format's public documentation, and its row in the README's *Formats*.
"""

from __future__ import annotations

from ingestors.body import head
from ingestors.formats import canonical, cef, dvc, ecs, edxml, suricata, wazuh
from ingestors.formats.base import (
    Format,
    Issue,
    MapContext,
    Mapped,
    Mapper,
    Parser,
)

__all__ = [
    "FORMATS",
    "Format",
    "Issue",
    "MapContext",
    "Mapped",
    "Mapper",
    "Parser",
    "UnknownFormat",
    "detect_record",
    "format_named",
    "formats_for",
    "sniff_body",
]

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        suricata.FORMAT,
        wazuh.FORMAT,
        ecs.FORMAT,
        cef.FORMAT,
        dvc.FORMAT,
        edxml.FORMAT,
        canonical.FORMAT,  # last: the fallback when no other format recognises a record
    )
}
CANONICAL = canonical.FORMAT


class UnknownFormat(ValueError):
    """`?format=` names no format this source takes; the message lists those it does."""


def formats_for(source: str) -> list[Format]:
    return [f for f in FORMATS.values() if source in f.sources]


def format_named(source: str, name: str | None) -> Format | None:
    """The format `?format=` names (case and surrounding blanks ignored); None when it is
    omitted (detect). Raises UnknownFormat for a name this source does not take."""
    if name is None:
        return None
    wanted = name.strip().lower()
    if not wanted:
        wanted = "canonical"
    known = formats_for(source)
    for f in known:
        if f.name == wanted:
            return f
    shown = name if len(name) <= 40 else name[:40] + "..."
    names = ", ".join(f.name for f in known)
    elsewhere = FORMATS.get(wanted)
    if elsewhere is not None:
        raise UnknownFormat(
            f"format {shown!r} is for {', '.join(sorted(elsewhere.sources))}, not {source}; "
            f"formats for {source}: {names}"
        )
    raise UnknownFormat(f"unknown format {shown!r}; formats for {source}: {names}")


def sniff_body(source: str, body: bytes) -> Format | None:
    """The format whose framing the body has, when it is not JSON; None for JSON."""
    first = head(body)
    for f in formats_for(source):
        if f.sniff is not None and f.sniff(first):
            return f
    return None


def detect_record(source: str, value: object) -> Format:
    """The format of one record (as the JSON parser yields it), canonical when no other
    format of the source recognises it."""
    for f in formats_for(source):
        if f.detect is not None and f.detect(value):
            return f
    return CANONICAL
