"""Wazuh alerts JSON: one alert per detection, as a Wazuh manager writes `alerts.json`.

What it writes (the server's `ingestors.formats.wazuh` reads it back):
- `timestamp` in Vietnam time with milliseconds and `+0700`; `id` `<epoch>.<offset>` as
  Wazuh numbers its alerts (the offset drawn from the event id), `manager.name`;
- `rule`: for a Wazuh rule (`Wazuh 5712: sshd: brute force…`) its id and description;
  for an Emerging Threats rule, Wazuh's Suricata integration (rule 86601, `Suricata:
  Alert - <signature>`, groups `ids`, `suricata`); `rule.level` by severity (`LEVELS`),
  `rule.groups` with groups that name the simulated category (`GROUPS`);
- `agent`: the monitored host (`name`, its address as `ip`, an id drawn from the name) with
  the agency as the label `agency` (`<labels><label key="agency">` in the agent's config);
- `data.srcip`: the attacker's address.

Carries every simulated alert. The server derives the alert id
`wazuh-<rule.id>-<hash of agency, agent.id, agent.name, data.srcip>`.
"""

from __future__ import annotations

from typing import Any

from ingestors.render.base import (
    Record,
    Renderer,
    epoch_millis,
    instant,
    local_millis,
    number,
    rule_of,
    server_hash,
)

MANAGER = "wazuh-manager.hatinh.gov.vn"
LEVELS = {"low": 5, "medium": 10, "high": 12, "critical": 15}
# Wazuh rule groups (local ones where Wazuh's ruleset has none) naming each category.
GROUPS: dict[str, tuple[str, ...]] = {
    "intrusion": ("authentication_failures", "attack"),
    "malware": ("rootcheck", "malware"),
    "web_defacement": ("syscheck", "web_defacement"),
    "ddos": ("web", "dos"),
    "vulnerability": ("vulnerability-detector",),
    "policy": ("policy_violation",),
    "phishing": ("email", "phishing"),
    "other": ("ossec",),
}
SURICATA_RULE = "86601"  # Wazuh's "Suricata: Alert - $(alert.signature)"


def _rule(payload: Record) -> tuple[str, str, tuple[str, ...]]:
    """(rule.id, rule.description, rule.groups)."""
    rule = rule_of(payload["signature"])
    groups = GROUPS[payload["category"]]
    if rule.family == "wazuh":
        return rule.rule_id, rule.name, groups
    return SURICATA_RULE, f"Suricata: Alert - {rule.name}", ("ids", "suricata", *groups)


def _agent(record: Record) -> dict[str, Any]:
    p = record["payload"]
    return {
        "id": f"{1 + number(p['asset'], 999):03d}",
        "name": p["asset"],
        "ip": p["dest_ip"],
        "labels": {"agency": record["agency"]},
    }


def carries(payload: Record) -> bool:
    return payload.get("severity") in LEVELS


def alert_id(record: Record) -> str:
    rule_id, _, _ = _rule(record["payload"])
    agent = _agent(record)
    seen_on = server_hash(record["agency"], agent["id"], agent["name"], record["payload"]["src_ip"])
    return f"wazuh-{rule_id}-{seen_on}"


def render(record: Record) -> dict[str, Any]:
    p = record["payload"]
    when = instant(record)
    rule_id, description, groups = _rule(p)
    level = LEVELS[p["severity"]]
    suricata = rule_id == SURICATA_RULE
    return {
        "timestamp": local_millis(when),
        "rule": {
            "level": level,
            "description": description,
            "id": rule_id,
            "firedtimes": 1,
            "mail": level >= 12,
            "groups": list(groups),
        },
        "agent": _agent(record),
        "manager": {"name": MANAGER},
        "id": f"{epoch_millis(when) // 1000}.{number(record['event_id'], 10**9)}",
        "decoder": {"name": "json" if suricata else "wazuh"},
        "data": {"srcip": p["src_ip"]},
        "location": "/var/log/suricata/eve.json" if suricata else "wazuh-agent",
    }


RENDERER = Renderer(
    name="wazuh",
    source="security",
    entity_key="alert_id",
    native_types=frozenset({"raised"}),
    carries=carries,
    render=render,
    entity_id=alert_id,
)
