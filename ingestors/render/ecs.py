"""Elastic Common Schema alerts: one `event.kind: alert` document per detection, as Elastic
Security writes its alerts (nested objects, with Kibana's own fields as dotted keys).

What it writes (the server's `ingestors.formats.ecs` reads it back):
- `@timestamp` in UTC with milliseconds; `event.id` drawn from the event id;
- `event.severity` on Elastic's risk scale (21, 47, 73, 99: Elastic Security's defaults)
  and the word in `kibana.alert.severity`;
- `event.category` ECS's allowed values, and `rule.category` a text that names the
  simulated category where ECS has no value for it (`CATEGORIES`);
- `rule.id` (the ET signature id, or the Wazuh rule id) and `rule.name`, `host.name` (the
  asset), `source.ip`, `destination.ip`, `organization.id` (the agency).

Carries every simulated alert. The server derives the alert id
`ecs-<hash of rule.id, agency, source.ip, destination.ip, host.name>`.
"""

from __future__ import annotations

from typing import Any

from ingestors.render.base import (
    Record,
    Renderer,
    digest,
    instant,
    rule_of,
    server_hash,
    utc_millis,
)

RISK = {"low": 21, "medium": 47, "high": 73, "critical": 99}
# IOC category -> (event.category, rule.category).
CATEGORIES: dict[str, tuple[list[str], str]] = {
    "intrusion": (["intrusion_detection", "network"], "Intrusion Detection"),
    "malware": (["malware"], "Malware"),
    "web_defacement": (["web", "file"], "Web Defacement"),
    "ddos": (["network"], "Denial of Service"),
    "vulnerability": (["vulnerability"], "Vulnerability"),
    "policy": (["iam"], "Policy Violation"),
    "phishing": (["email"], "Phishing"),
    "other": (["host"], "Informational"),
}
MODULES = {"et": "suricata", "wazuh": "wazuh"}


def carries(payload: Record) -> bool:
    return payload.get("severity") in RISK


def alert_id(record: Record) -> str:
    p = record["payload"]
    rule_id = rule_of(p["signature"]).rule_id
    return f"ecs-{server_hash(rule_id, record['agency'], p['src_ip'], p['dest_ip'], p['asset'])}"


def render(record: Record) -> dict[str, Any]:
    p = record["payload"]
    rule = rule_of(p["signature"])
    categories, rule_category = CATEGORIES[p["category"]]
    return {
        "@timestamp": utc_millis(instant(record)),
        "ecs": {"version": "8.11.0"},
        "event": {
            "kind": "alert",
            "id": digest(record["event_id"])[:32],
            "severity": RISK[p["severity"]],
            "category": categories,
            "type": ["info"],
            "module": MODULES[rule.family],
        },
        "kibana.alert.severity": p["severity"],
        "kibana.alert.risk_score": RISK[p["severity"]],
        "kibana.alert.rule.name": rule.name,
        "rule": {"id": rule.rule_id, "name": rule.name, "category": rule_category},
        "host": {"name": p["asset"]},
        "source": {"ip": p["src_ip"]},
        "destination": {"ip": p["dest_ip"]},
        "organization": {"id": record["agency"]},
        "message": rule.name,
    }


RENDERER = Renderer(
    name="ecs",
    source="security",
    entity_key="alert_id",
    native_types=frozenset({"raised"}),
    carries=carries,
    render=render,
    entity_id=alert_id,
)
