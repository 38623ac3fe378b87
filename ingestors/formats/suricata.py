"""Suricata EVE JSON (`eve.json`: NDJSON, one event per line; a JSON array works too).

Recognised (when `?format=` is omitted) by a JSON object with a text `event_type` and
a `timestamp`. Only `event_type: alert` becomes a security event (`raised`); every
other type (`dns`, `http`, `flow`, `tls`, `stats`, `anomaly`, …) is accepted, maps to no
event, and is counted in `ioc_ingest_skipped_records_total{format="suricata",kind=…}`
(kind the event type when Suricata documents it, else `other`).

Mapping (canonical field: where it comes from):
- `event_id`: derived from the record's content (EVE gives no id): `suricata-<sha256>`,
  so a re-sent line is stored once
- `occurred_at`: `timestamp` (`2026-11-22T09:45:00.123456+0700`; without a zone taken as
  Asia/Ho_Chi_Minh, with a warning)
- `agency`: `agency` (a field the shipper adds, e.g. Logstash/Filebeat `fields`), else
  `?agency=`
- `payload.alert_id`: `suricata-<gid>:<signature_id>-<hash of agency, src_ip, dest_ip>`:
  one alert per rule and host pair
- `payload.severity`: `alert.severity`: 1 high, 2 medium, 3 and above low (see
  `ingestors.formats.alerts`)
- `payload.category`: keywords of `alert.category` (the classtype), then of
  `alert.signature`
- `payload.signature`: `[gid:signature_id:rev] signature`
- `payload.src_ip`, `dest_ip`: `src_ip`, `dest_ip`
- `payload.asset`: `alert.target.ip` when the rule names a target (Suricata 7), else the
  internal end: `src_ip` when it is private and `dest_ip` is not (an outbound
  connection), else `dest_ip`

Decided here (the formats say nothing of agencies): the agency and asset rules above, and that
`alert.action` (allowed/blocked) does not change the severity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestors.body import parse_records
from ingestors.formats import alerts
from ingestors.formats.base import (
    Format,
    Issue,
    MapContext,
    Mapped,
    content_id,
    parse_instant,
    short_hash,
    shown,
)

# EVE event types Suricata documents (7.x); any other is counted as `other`.
EVENT_TYPES = frozenset({
    "alert", "anomaly", "http", "http2", "dns", "tls", "ssh", "smtp", "ftp", "ftp_data",
    "fileinfo", "flow", "netflow", "stats", "drop", "dhcp", "dnp3", "enip", "ikev2", "krb5",
    "modbus", "mqtt", "nfs", "pgsql", "quic", "rdp", "rfb", "sip", "smb", "snmp", "tftp",
    "bittorrent_dht", "bittorrent-dht", "engine", "arp", "ldap", "websocket", "pop3", "frame",
    "mdns", "template", "files", "sdp",
})  # fmt: skip


def detect(record: Any) -> bool:
    return (
        isinstance(record, Mapping)
        and isinstance(record.get("event_type"), str)
        and "timestamp" in record
    )


def severity(value: Any) -> str | None:
    """`alert.severity` (the classtype priority, 1 most severe) as IOC's severity."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 255:
        return None
    return "high" if value == 1 else "medium" if value == 2 else "low"


def map_record(record: Any, ctx: MapContext) -> Mapped:
    if not isinstance(record, Mapping):
        return Mapped(errors=[Issue("", f"expected an EVE JSON object, got {shown(record)}")])
    event_type = record.get("event_type")
    if not isinstance(event_type, str):
        return Mapped(errors=[Issue("event_type", f"must be text, got {shown(event_type)}")])
    if event_type != "alert":
        kind = event_type if event_type in EVENT_TYPES else "other"
        return Mapped(
            skipped=kind,
            note=f"Suricata event_type {event_type[:40]!r} is counted, not alerted",
        )
    errors: list[Issue] = []
    warnings: list[Issue] = []
    when, error, warning = parse_instant(record.get("timestamp"), "timestamp")
    errors += [error] if error else []
    warnings += [warning] if warning else []
    alert = record.get("alert")
    if not isinstance(alert, Mapping):
        errors.append(Issue("alert", f"an alert event needs an 'alert' object, got {shown(alert)}"))
        return Mapped(errors=errors, warnings=warnings)
    level = severity(alert.get("severity"))
    if level is None:
        errors.append(
            Issue(
                "alert.severity",
                f"must be a whole number 1-255, got {shown(alert.get('severity'))}",
            )
        )
    sid = alert.get("signature_id")
    if isinstance(sid, bool) or not isinstance(sid, int) or sid < 0:
        errors.append(Issue("alert.signature_id", f"must be a whole number, got {shown(sid)}"))
    gid = alert.get("gid", 1)
    if isinstance(gid, bool) or not isinstance(gid, int):
        errors.append(Issue("alert.gid", f"must be a whole number, got {shown(gid)}"))
    rev = alert.get("rev")
    src = alerts.ip(record.get("src_ip"), "src_ip", errors)
    dest = alerts.ip(record.get("dest_ip"), "dest_ip", errors)
    target = alert.get("target")
    asset = (
        alerts.ip(target.get("ip"), "alert.target.ip", errors)
        if isinstance(target, Mapping)
        else None
    )
    if asset is None:
        asset = src if alerts.is_private(src) and not alerts.is_private(dest) else dest
    code, agency_from = alerts.agency(record.get("agency"), "agency", ctx, errors)
    name = alert.get("signature")
    if name is not None and not isinstance(name, str):
        errors.append(Issue("alert.signature", f"must be text, got {shown(name)}"))
    if errors or when is None or level is None:
        return Mapped(errors=errors, warnings=warnings)
    rule = f"[{gid}:{sid}:{rev}]" if isinstance(rev, int) else f"[{gid}:{sid}]"
    signature = alerts.text(f"{rule} {name}" if name else rule, "alert.signature", warnings)
    event = alerts.raised(
        event_id=content_id("suricata", record),
        alert_id=f"suricata-{gid}:{sid}-{short_hash(code, src, dest)}",
        occurred_at=when,
        agency_code=code,
        severity=level,
        category=alerts.categorise(alert.get("category"), name),
        asset=asset,
        signature=signature,
        src_ip=src,
        dest_ip=dest,
    )
    origins = {"occurred_at": "timestamp", "agency": agency_from, "payload.asset": "dest_ip"}
    return Mapped(events=[event], warnings=warnings, origins=origins)


FORMAT = Format(
    name="suricata",
    title="Suricata EVE JSON",
    sources=frozenset({"security"}),
    parser=parse_records,
    mapper=map_record,
    detect=detect,
)
