"""Suricata EVE JSON: one `event_type: alert` line per detection, as a sensor writes `eve.json`.

What it writes (the server's `ingestors.formats.suricata` reads it back):
- `timestamp` in Vietnam time with microseconds and a `+0700` offset, as Suricata does;
- `flow_id`, ports and `in_iface` drawn from the event id (stable for a seed);
- `alert.gid` 1, `alert.signature_id` and `rev` of the ET rule behind the signature,
  `alert.signature` its name, `alert.category` a classtype description that names the
  simulated category (`CLASSTYPES`), `alert.severity` the classtype priority: high 1,
  medium 2, low 3;
- `agency`: the field a shipper adds for the agency whose network the sensor watches.

Carries only Emerging Threats rules (network detections; the simulator's Wazuh rules are
host events a sensor never sees) and never a critical alert: EVE's priorities end at high.
The server derives the alert id `suricata-1:<sid>-<hash of agency, src_ip, dest_ip>`.
"""

from __future__ import annotations

from typing import Any

from ingestors.render.base import (
    VN_TZ,
    Record,
    Renderer,
    instant,
    number,
    rule_of,
    server_hash,
)

# Suricata's classification.config descriptions (one local classtype for defacement, which
# the shipped file lacks), chosen so that the server's keywords find the category.
CLASSTYPES = {
    "intrusion": "Attempted Administrator Privilege Gain",
    "malware": "A Network Trojan was detected",
    "web_defacement": "Website Defacement Detected",
    "ddos": "Attempted Denial of Service",
    "vulnerability": "Access to a Potentially Vulnerable Web Application",
    "policy": "Potential Corporate Privacy Violation",
    "phishing": "Possible Social Engineering Attempted",
    "other": "Misc activity",
}
PRIORITY = {"high": 1, "medium": 2, "low": 3}
PORTS = {"ddos": 80, "web_defacement": 80, "phishing": 53, "policy": 443}


def carries(payload: Record) -> bool:
    return payload.get("severity") in PRIORITY and rule_of(payload["signature"]).family == "et"


def alert_id(record: Record) -> str:
    p = record["payload"]
    sid = rule_of(p["signature"]).rule_id
    return f"suricata-1:{sid}-{server_hash(record['agency'], p.get('src_ip'), p.get('dest_ip'))}"


def render(record: Record) -> dict[str, Any]:
    p = record["payload"]
    rule = rule_of(p["signature"])
    event_id = record["event_id"]
    port = PORTS.get(p["category"], 443)
    when = instant(record).astimezone(VN_TZ)
    return {
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%f%z"),
        "flow_id": number(event_id, 1 << 51),
        "in_iface": "ens192",
        "event_type": "alert",
        "src_ip": p["src_ip"],
        "src_port": 1024 + number(event_id + "#port", 64_000),
        "dest_ip": p["dest_ip"],
        "dest_port": port,
        "proto": "UDP" if port == 53 else "TCP",
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": int(rule.rule_id),
            "rev": rule.rev,
            "signature": rule.name,
            "category": CLASSTYPES[p["category"]],
            "severity": PRIORITY[p["severity"]],
        },
        "host": "ids-h42",
        "agency": record["agency"],
    }


RENDERER = Renderer(
    name="suricata",
    source="security",
    entity_key="alert_id",
    native_types=frozenset({"raised"}),
    carries=carries,
    render=render,
    entity_id=alert_id,
)
