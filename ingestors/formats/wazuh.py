"""Wazuh alerts JSON (`alerts.json`: NDJSON, one alert per line; a JSON array works too).

Recognised (when `?format=` is omitted) by a JSON object whose `rule` is an object with
a `level`, beside an `agent`, `manager` or `decoder` object. Every alert becomes a
`raised` security event (Wazuh writes only level 3 and above to alerts.json by
default; lower levels, when configured, are taken too and land on low).

Mapping (canonical field: where it comes from):
- `event_id`: `wazuh-<manager.name>-<id>` (`id` is unique per manager), else derived
  from the content
- `occurred_at`: `timestamp` (`2026-11-22T09:45:12.345+0700`; without a zone taken as
  Asia/Ho_Chi_Minh, with a warning)
- `agency`: `agent.labels.agency` (an agent label set in the agent's `ossec.conf`), else
  `?agency=`
- `payload.alert_id`: `wazuh-<rule.id>-<hash of agency, agent, data.srcip>`: one alert
  per rule, agent and attacker
- `payload.severity`: `rule.level`: 0–6 low, 7–11 medium, 12–14 high, 15–16 critical
  (see `ingestors.formats.alerts`)
- `payload.category`: keywords of `rule.groups`, then of `rule.description`
- `payload.signature`: `<rule.id>: <rule.description>`
- `payload.asset`: `agent.name` (the monitored host)
- `payload.src_ip`: `data.srcip`
- `payload.dest_ip`: `data.dstip`, else `agent.ip`

Decided here (the formats say nothing of agencies): the agency label, the asset, and grouping
repeated firings of a rule on one agent from one source address as one alert.
"""

from __future__ import annotations

import re
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
    get_path,
    parse_instant,
    short_hash,
    shown,
)

# rule.level -> IOC severity: the one table (0-16).
LEVELS: tuple[tuple[range, str], ...] = (
    (range(0, 7), "low"),
    (range(7, 12), "medium"),
    (range(12, 15), "high"),
    (range(15, 17), "critical"),
)


def detect(record: Any) -> bool:
    return (
        isinstance(record, Mapping)
        and isinstance(record.get("rule"), Mapping)
        and "level" in record["rule"]
        and any(isinstance(record.get(key), Mapping) for key in ("agent", "manager", "decoder"))
    )


def severity(level: Any) -> str | None:
    if isinstance(level, str) and level.strip().isdigit() and level.strip().isascii():
        level = int(level)
    if isinstance(level, bool) or not isinstance(level, int):
        return None
    return next((name for levels, name in LEVELS if level in levels), None)


def _event_id(record: Mapping[str, Any]) -> str:
    wazuh_id = as_identifier(record.get("id"))
    manager = get_path(record, "manager.name")
    manager = re.sub(r"\s+", "_", manager) if isinstance(manager, str) else ""
    if wazuh_id is not None and len(manager) + len(wazuh_id) <= 180:
        return f"wazuh-{manager}-{wazuh_id}" if manager else f"wazuh-{wazuh_id}"
    return content_id("wazuh", record)


def map_record(record: Any, ctx: MapContext) -> Mapped:
    if not isinstance(record, Mapping):
        return Mapped(errors=[Issue("", f"expected a Wazuh alert object, got {shown(record)}")])
    errors: list[Issue] = []
    warnings: list[Issue] = []
    when, error, warning = parse_instant(record.get("timestamp"), "timestamp")
    errors += [error] if error else []
    warnings += [warning] if warning else []
    rule = record.get("rule")
    if not isinstance(rule, Mapping):
        errors.append(Issue("rule", f"must be an object, got {shown(rule)}"))
        return Mapped(errors=errors, warnings=warnings)
    level = severity(rule.get("level"))
    if level is None:
        errors.append(
            Issue("rule.level", f"must be a whole number 0-16, got {shown(rule.get('level'))}")
        )
    rule_id = as_identifier(rule.get("id"))
    if rule_id is None:
        errors.append(Issue("rule.id", f"must be the rule's id, got {shown(rule.get('id'))}"))
    description = rule.get("description")
    if description is not None and not isinstance(description, str):
        errors.append(Issue("rule.description", f"must be text, got {shown(description)}"))
    agent = record.get("agent")
    agent = agent if isinstance(agent, Mapping) else {}
    data = record.get("data")
    data = data if isinstance(data, Mapping) else {}
    src = alerts.ip(data.get("srcip"), "data.srcip", errors)
    dest = alerts.ip(data.get("dstip"), "data.dstip", errors)
    if dest is None and data.get("dstip") in (None, ""):
        dest = alerts.ip(agent.get("ip"), "agent.ip", errors)
    code, agency_from = alerts.agency(
        get_path(agent, "labels.agency"), "agent.labels.agency", ctx, errors
    )
    if errors or when is None or level is None:
        return Mapped(errors=errors, warnings=warnings)
    asset = alerts.text(agent.get("name"), "agent.name", warnings)
    signature = alerts.text(
        f"{rule_id}: {description}" if description else rule_id, "rule.description", warnings
    )
    seen_on = short_hash(code, agent.get("id"), agent.get("name"), src)
    event = alerts.raised(
        event_id=_event_id(record),
        alert_id=f"wazuh-{str(rule_id)[:100]}-{seen_on}",
        occurred_at=when,
        agency_code=code,
        severity=level,
        category=alerts.categorise(rule.get("groups"), description),
        asset=asset,
        signature=signature,
        src_ip=src,
        dest_ip=dest,
    )
    origins = {"occurred_at": "timestamp", "agency": agency_from, "event_id": "id"}
    return Mapped(events=[event], warnings=warnings, origins=origins)


FORMAT = Format(
    name="wazuh",
    title="Wazuh alerts JSON",
    sources=frozenset({"security"}),
    parser=parse_records,
    mapper=map_record,
    detect=detect,
)
