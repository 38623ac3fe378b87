"""Elastic Common Schema (ECS) alerts: JSON documents with `event.kind: alert`, as Elastic
Security, Filebeat/Elastic Agent modules and other ECS producers write them (a JSON
array, one object, or NDJSON; nested objects or dotted keys such as `"event.kind"`).

Recognised (when `?format=` is omitted) by a JSON object with a text `event.kind` and
an `@timestamp` or `ecs` field. `event.kind` `alert` (and `signal`, Elastic Security's
earlier name for it) becomes a `raised` security event; any other kind (`event`,
`metric`, `state`, …) is accepted, maps to no event, and is counted in
`ioc_ingest_skipped_records_total{format="ecs",kind=…}`.

Mapping (canonical field: where it comes from):
- `event_id`: `ecs-<event.id>`, else derived from the content
- `occurred_at`: `@timestamp` (ISO 8601; without a zone taken as Asia/Ho_Chi_Minh, with
  a warning)
- `agency`: `organization.id`, else `?agency=`
- `payload.alert_id`: `ecs-<hash of rule.id (or rule.uuid, rule.name), agency,
  source.ip, destination.ip, asset>`
- `payload.severity`: `kibana.alert.severity` when it is a word
  (low/medium/high/critical), else `event.severity` 0–100: 0–39 low, 40–69 medium, 70–89
  high, 90–100 critical (see `ingestors.formats.alerts`)
- `payload.category`: keywords of `event.category`, then `rule.category`,
  `threat.tactic.name`, `rule.name`
- `payload.signature`: `rule.name` (with `rule.id` before it when there is one), else
  `message`
- `payload.asset`: `host.name`, else `destination.domain`, else `destination.ip`
- `payload.src_ip`, `dest_ip`: `source.ip`, `destination.ip`
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
    as_identifier,
    content_id,
    epoch_ms,
    get_path,
    parse_instant,
    short_hash,
    shown,
)

ALERT_KINDS = frozenset({"alert", "signal"})
KINDS = frozenset({"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error",
                   "signal"})  # fmt: skip
# event.severity (0-100) -> IOC severity: the one table.
SEVERITIES: tuple[tuple[range, str], ...] = (
    (range(0, 40), "low"),
    (range(40, 70), "medium"),
    (range(70, 90), "high"),
    (range(90, 101), "critical"),
)
WORDS = frozenset({"low", "medium", "high", "critical"})


def detect(record: Any) -> bool:
    return (
        isinstance(record, Mapping)
        and isinstance(get_path(record, "event.kind"), str)
        and ("@timestamp" in record or "ecs" in record or "ecs.version" in record)
    )


def severity(record: Mapping[str, Any]) -> tuple[str | None, Issue | None]:
    word = get_path(record, "kibana.alert.severity")
    if isinstance(word, str) and word.strip().lower() in WORDS:
        return word.strip().lower(), None
    number = get_path(record, "event.severity")
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int):
        reason = (
            f"must be a whole number 0-100 (or kibana.alert.severity a word), got {shown(number)}"
        )
        return None, Issue("event.severity", reason)
    level = next((name for levels, name in SEVERITIES if number in levels), None)
    if level is None:
        return None, Issue("event.severity", f"must be 0-100, got {number}")
    return level, None


def map_record(record: Any, ctx: MapContext) -> Mapped:
    if not isinstance(record, Mapping):
        return Mapped(errors=[Issue("", f"expected an ECS JSON object, got {shown(record)}")])
    kind = get_path(record, "event.kind")
    if not isinstance(kind, str):
        return Mapped(errors=[Issue("event.kind", f"must be text, got {shown(kind)}")])
    if kind not in ALERT_KINDS:
        return Mapped(
            skipped=kind if kind in KINDS else "other",
            note=f"ECS event.kind {kind[:40]!r} is counted, not alerted",
        )
    errors: list[Issue] = []
    warnings: list[Issue] = []
    stamp = record.get("@timestamp")
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        when, error = epoch_ms(stamp, "@timestamp")
        warning = None
    else:
        when, error, warning = parse_instant(stamp, "@timestamp")
    errors += [error] if error else []
    warnings += [warning] if warning else []
    level, error = severity(record)
    errors += [error] if error else []
    src = alerts.ip(get_path(record, "source.ip"), "source.ip", errors)
    dest = alerts.ip(get_path(record, "destination.ip"), "destination.ip", errors)
    code, agency_from = alerts.agency(
        get_path(record, "organization.id"), "organization.id", ctx, errors
    )
    if errors or when is None or level is None:
        return Mapped(errors=errors, warnings=warnings)
    rule_name = get_path(record, "rule.name")
    rule_id = get_path(record, "rule.id") or get_path(record, "rule.uuid")
    rule_name = rule_name if isinstance(rule_name, str) else None
    name = f"{rule_id}: {rule_name}" if rule_name and isinstance(rule_id, str) else rule_name
    signature = alerts.text(name or get_path(record, "message"), "rule.name", warnings)
    asset = alerts.text(
        get_path(record, "host.name") or get_path(record, "destination.domain") or dest,
        "host.name",
        warnings,
    )
    event_id = as_identifier(get_path(record, "event.id"))
    event = alerts.raised(
        event_id=f"ecs-{event_id}"
        if event_id and len(event_id) <= 190
        else content_id("ecs", record),
        alert_id=f"ecs-{short_hash(rule_id or rule_name, code, src, dest, asset)}",
        occurred_at=when,
        agency_code=code,
        severity=level,
        category=alerts.categorise(
            get_path(record, "event.category"),
            get_path(record, "rule.category"),
            get_path(record, "threat.tactic.name"),
            rule_name,
        ),
        asset=asset,
        signature=signature,
        src_ip=src,
        dest_ip=dest,
    )
    origins = {"occurred_at": "@timestamp", "agency": agency_from, "event_id": "event.id"}
    return Mapped(events=[event], warnings=warnings, origins=origins)


FORMAT = Format(
    name="ecs",
    title="Elastic Common Schema alert",
    sources=frozenset({"security"}),
    parser=parse_records,
    mapper=map_record,
    detect=detect,
)
