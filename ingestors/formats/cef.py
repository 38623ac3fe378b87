"""ArcSight Common Event Format (CEF), one event per line, bare or behind a syslog header.

`CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`

Recognised (when `?format=` is omitted) by a body whose first line starts with `CEF:` or
with a syslog priority (`<134>`); parsed one record per line (a JSON array of such
lines works too, and is recognised per record). A syslog header before `CEF:` (RFC 5424
or RFC 3164) is skipped; its time and host are used when the extension gives none.

Escaping (CEF specification): in the header `\\|` is a pipe and `\\\\` a backslash; in
extension values `\\=` is an equals sign, `\\\\` a backslash, `\\n` and `\\r` line breaks.
An unescaped pipe is allowed in the extension. Keys are letters, digits, `_`, `.`,
`-`, `[`, `]`; a value runs up to the space before the next `key=`.

Mapping (canonical field: where it comes from):
- `event_id`: derived from the CEF text (not the syslog header): `cef-<sha256>`, so a
  re-sent event is stored once whichever relay carried it. When the CEF text has no time
  of its own (no `rt`, `end` or `start`) and the syslog header's time is the event's,
  that instant (to the second) is part of the id too: the same rule firing on the same
  hosts an hour later is another firing (an occurrence, reopening a resolved alert), not
  a re-sent one
- `occurred_at`: `rt` (milliseconds since 1970, or `MMM dd [yyyy] HH:mm:ss[.SSS]
  [zone]`, or ISO 8601), else `end`, `start`, the syslog header's time, else the time
  ingest received it (with a warning); a date without a zone is taken as
  Asia/Ho_Chi_Minh (with a warning); one without a year is in the year that puts it
  nearest the receipt (a December date received in January is last year's)
- `agency`: the `csN` whose `csNLabel` is `agency`, or an `agency` key, else `?agency=`
- `payload.alert_id`: `cef-<hash of vendor, product, signature id, agency, src, dst>`
- `payload.severity`: Severity: 0–3 low, 4–6 medium, 7–8 high, 9–10 critical; `Low`,
  `Medium`, `High`, `Very-High` likewise; `Unknown` low with a warning
- `payload.category`: keywords of `cat`, then of Name
- `payload.signature`: `<Device Vendor> <Device Product> <Signature ID>: <Name>`
- `payload.asset`: `dhost`, else `dst`, else `dvchost`, else the syslog header's host
- `payload.src_ip`, `dest_ip`: `src`, `dst` (an address that is not an IP is refused)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ingestors.body import RawRecord, parse_lines, parse_records
from ingestors.formats import alerts
from ingestors.formats.base import (
    VN_TZ,
    Format,
    Issue,
    MapContext,
    Mapped,
    content_id,
    epoch_ms,
    naive_warning,
    parse_instant,
    short_hash,
    shown,
    year_nearest,
)

HEADER_FIELDS = (
    "version",
    "vendor",
    "product",
    "device_version",
    "signature_id",
    "name",
    "severity",
)
SEVERITY_WORDS = {
    "unknown": "low", "low": "low", "medium": "medium", "high": "high",
    "very-high": "critical", "very high": "critical", "veryhigh": "critical",
}  # fmt: skip
MAX_LINE = 64 * 1024

_SYSLOG_PRI = re.compile(rb"^<\d{1,3}>")
_KEY = re.compile(r"(?:^|(?<= ))([A-Za-z0-9_.\[\]-]+)=")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}  # fmt: skip
_CEF_DATE = re.compile(
    r"^(?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2})(?: (?P<year>\d{4}))? "
    r"(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<ms>\d{1,6}))?(?: (?P<zone>\S+))?$"
)
_RFC5424 = re.compile(r"^<\d{1,3}>\d{1,2} (?P<time>\S+) (?P<host>\S+) ")
_RFC3164 = re.compile(
    r"^<\d{1,3}>(?P<time>[A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2})(?: (?P<host>[^\s:]+))?"
)
_ZONES = {"utc": UTC, "gmt": UTC, "z": UTC, "ict": VN_TZ}


def sniff(head: bytes) -> bool:
    return head.startswith(b"CEF:") or bool(_SYSLOG_PRI.match(head))


def detect(record: Any) -> bool:
    return isinstance(record, str) and (
        record.startswith("CEF:") or (record.startswith("<") and "CEF:" in record[:512])
    )


def parse(body: bytes, max_records: int | None = None) -> list[RawRecord]:
    """Lines; a JSON array (of CEF lines) when the body starts with `[`."""
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[":
        return parse_records(body, max_records)
    return parse_lines(body, max_records)


def split_header(cef: str) -> tuple[list[str], str] | None:
    """The seven header fields (unescaped) and the raw extension; None when the header
    has fewer than seven unescaped pipes."""
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(cef) and len(fields) < 7:
        char = cef[i]
        if char == "\\" and i + 1 < len(cef) and cef[i + 1] in "|\\":
            current.append(cef[i + 1])
            i += 2
            continue
        if char == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    if len(fields) < 7:
        return None
    return fields, cef[i:]


def parse_extension(extension: str) -> dict[str, str]:
    """`key=value` pairs; later duplicates win. Values unescaped."""
    matches = list(_KEY.finditer(extension))
    pairs: dict[str, str] = {}
    for n, match in enumerate(matches):
        last = n + 1 == len(matches)
        raw = extension[match.end() : len(extension) if last else matches[n + 1].start()]
        # The space before the next key separates; the last value ends the line.
        pairs[match.group(1)] = _unescape_value(raw.rstrip() if last else raw.removesuffix(" "))
    return pairs


def _unescape_value(value: str) -> str:
    return re.sub(
        r"\\([=\\nr])", lambda m: {"=": "=", "\\": "\\", "n": "\n", "r": "\r"}[m.group(1)], value
    )


def severity(value: str) -> tuple[str | None, Issue | None]:
    """(IOC severity, a warning) for CEF's Severity; None when it is neither 0-10 nor a word."""
    word = value.strip().lower()
    if word.isascii() and word.isdigit():
        number = int(word)
        if number <= 10:
            level = "low" if number <= 3 else "medium" if number <= 6 else "high"
            return ("critical" if number >= 9 else level), None
        return None, None
    if word in SEVERITY_WORDS:
        warning = None
        if word == "unknown":
            warning = Issue("header.severity", "Unknown severity taken as low", "unknown_severity")
        return SEVERITY_WORDS[word], warning
    return None, None


def cef_time(
    value: str, where: str, ctx: MapContext
) -> tuple[datetime | None, Issue | None, Issue | None]:
    """(instant, error, warning) for a CEF date: epoch milliseconds, the CEF spec's
    `MMM dd [yyyy] HH:mm:ss[.SSS] [zone]`, or ISO 8601."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        when, error = epoch_ms(int(text), where)
        return when, error, None
    match = _CEF_DATE.match(text)
    if match is None:
        return parse_instant(text, where)
    month = _MONTHS.get(match["mon"].lower())
    if month is None:
        return None, Issue(where, f"{shown(value)}: unknown month {match['mon']!r}"), None
    zone, warning = VN_TZ, None
    if match["zone"]:
        zone_or_none = _zone(match["zone"])
        if zone_or_none is None:
            return None, Issue(where, f"{shown(value)}: unknown time zone {match['zone']!r}"), None
        zone = zone_or_none
    else:
        warning = naive_warning(where)
    year = (
        int(match["year"]) if match["year"]
        else year_nearest(month, int(match["day"]), ctx.received_at, zone)
    )  # fmt: skip
    try:
        when = datetime(
            year, month, int(match["day"]), int(match["h"]), int(match["m"]), int(match["s"]),
            int((match["ms"] or "0").ljust(6, "0")), tzinfo=zone,
        )  # fmt: skip
    except ValueError as error:
        return None, Issue(where, f"{shown(value)} is not a date ({error})"), None
    return when, None, warning


def _zone(name: str) -> timezone | None:
    if name.lower() in _ZONES:
        return _ZONES[name.lower()]
    match = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{2}):?(\d{2})", name, re.IGNORECASE)
    if match is None:
        return None
    offset = timedelta(hours=int(match[2]), minutes=int(match[3]))
    if offset >= timedelta(hours=24):
        return None
    return timezone(-offset if match[1] == "-" else offset)


def map_record(record: Any, ctx: MapContext) -> Mapped:
    if not isinstance(record, str):
        return Mapped(errors=[Issue("", f"expected a CEF line (text), got {shown(record)}")])
    if len(record) > MAX_LINE:
        return Mapped(errors=[Issue("", f"line longer than {MAX_LINE} characters")])
    start = record.find("CEF:")
    if start < 0:
        return Mapped(errors=[Issue("", "not CEF: no 'CEF:' in the line")])
    header, cef = record[:start].strip(), record[start:]
    split = split_header(cef[4:])
    if split is None:
        return Mapped(
            errors=[Issue("header", "CEF needs 7 header fields separated by '|' before the "
                          "extension: Version|Vendor|Product|Version|SignatureID|Name|Severity|")]
        )  # fmt: skip
    values, extension = split
    head = dict(zip(HEADER_FIELDS, values, strict=True))
    errors: list[Issue] = []
    warnings: list[Issue] = []
    if not (head["version"].isascii() and head["version"].isdigit()):
        errors.append(
            Issue("header.version", f"must be a number (0 or 1), got {shown(head['version'])}")
        )
    for name in ("signature_id", "name"):
        if not head[name].strip():
            errors.append(Issue(f"header.{name}", "must not be empty"))
    level, warning = severity(head["severity"])
    if level is None:
        errors.append(Issue(
            "header.severity",
            f"must be 0-10 or Unknown/Low/Medium/High/Very-High, got {shown(head['severity'])}",
        ))  # fmt: skip
    warnings += [warning] if warning else []
    ext = parse_extension(extension)

    when = None
    origin = ""  # where the time came from
    for key in ("rt", "end", "start"):
        if ext.get(key):
            when, error, warning = cef_time(ext[key], key, ctx)
            errors += [error] if error else []
            warnings += [warning] if warning else []
            break
    syslog_time, syslog_host = _syslog(header)
    if when is None and not any(ext.get(key) for key in ("rt", "end", "start")):
        if syslog_time is not None:
            when, error, warning = cef_time(syslog_time, "syslog header", ctx)
            origin = "syslog header"
            errors += [error] if error else []
            warnings += [warning] if warning else []
        else:
            when = ctx.received_at
            warnings.append(
                Issue("rt", "no rt, end, start or syslog time; taken as the time ingest "
                      "received it", "no_time")
            )  # fmt: skip

    src = alerts.ip(ext.get("src"), "src", errors)
    dest = alerts.ip(ext.get("dst"), "dst", errors)
    labelled = next(
        (ext.get(key[:-5]) for key, label in ext.items()
         if re.fullmatch(r"cs\dLabel", key) and label.strip().lower() == "agency"),
        None,
    )  # fmt: skip
    code, agency_from = alerts.agency(
        labelled if labelled is not None else ext.get("agency"), "csNLabel=agency", ctx, errors
    )
    if errors or when is None or level is None:
        return Mapped(errors=errors, warnings=warnings)
    asset = alerts.text(
        ext.get("dhost") or ext.get("dst") or ext.get("dvchost") or syslog_host, "dhost", warnings
    )
    signature = alerts.text(
        f"{head['vendor']} {head['product']} {head['signature_id']}: {head['name']}".strip(),
        "header.name",
        warnings,
    )
    identity = short_hash(head["vendor"], head["product"], head["signature_id"], code, src, dest)
    # A time the CEF text lacks but the header gives tells two firings apart: the instant,
    # to the second (what every header style can say), so RFC 3164 and RFC 5424 headers
    # of one moment give one event.
    timed_by = (
        "\n" + when.astimezone(UTC).replace(microsecond=0).isoformat()
        if origin == "syslog header"
        else ""
    )
    event = alerts.raised(
        event_id=content_id("cef", cef + timed_by),
        alert_id=f"cef-{identity}",
        occurred_at=when,
        agency_code=code,
        severity=level,
        category=alerts.categorise(ext.get("cat"), head["name"]),
        asset=asset,
        signature=signature,
        src_ip=src,
        dest_ip=dest,
    )
    origins = {"occurred_at": "rt", "agency": agency_from}
    return Mapped(events=[event], warnings=warnings, origins=origins)


def _syslog(header: str) -> tuple[str | None, str | None]:
    """(time, host) of a syslog header (RFC 5424 or RFC 3164), as far as they are there."""
    if not header.startswith("<"):
        return None, None
    match = _RFC5424.match(header + " ") or _RFC3164.match(header)
    if match is None:
        return None, None
    time, host = match["time"], match["host"]
    return (None if time == "-" else time), (None if host in (None, "-") else host)


FORMAT = Format(
    name="cef",
    title="ArcSight CEF",
    sources=frozenset({"security"}),
    parser=parse,
    mapper=map_record,
    detect=detect,
    sniff=sniff,
)
