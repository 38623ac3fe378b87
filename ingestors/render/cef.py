"""ArcSight CEF: one line per detection, as a SIEM relay or Wazuh's syslog output sends it.

What it writes (the server's `ingestors.formats.cef` reads it back):
- the header `CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|`: `OISF|Suricata`
  with the ET rule's signature id for Emerging Threats rules, `Wazuh|Wazuh` with the rule
  id for Wazuh rules; Severity by IOC severity (`SEVERITY`: 3, 5, 8, 10);
- the extension: `rt` (milliseconds since 1970), `src`, `dst`, `dhost` (the asset),
  `cs1Label=agency` with the agency in `cs1`, `cat` (a category text the server's keywords
  read as the simulated category, `CATEGORIES`), `externalId` drawn from the event id;
- Wazuh's lines behind an RFC 5424 syslog header (Wazuh's `syslog_output` sends syslog),
  Suricata's bare (a file forwarder).
Header fields escape `\\` and `|`, extension values `\\`, `=` and line breaks.

Carries every simulated alert. The server derives the alert id
`cef-<hash of vendor, product, signature id, agency, src, dst>`.
"""

from __future__ import annotations

from ingestors.render.base import (
    Record,
    Renderer,
    epoch_millis,
    instant,
    number,
    rule_of,
    server_hash,
)

SEVERITY = {"low": 3, "medium": 5, "high": 8, "critical": 10}
CATEGORIES = {
    "intrusion": "Intrusion Attempt",
    "malware": "Malware",
    "web_defacement": "Web Defacement",
    "ddos": "Denial of Service",
    "vulnerability": "Vulnerability Exploit",
    "policy": "Policy Violation",
    "phishing": "Phishing",
    "other": "Informational",
}
DEVICES = {"et": ("OISF", "Suricata", "7.0.8"), "wazuh": ("Wazuh", "Wazuh", "4.9.2")}
SYSLOG_HOST = "wazuh-manager.hatinh.gov.vn"


def _header_field(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def _device(payload: Record) -> tuple[str, str, str, str, str]:
    """(vendor, product, version, signature id, name)."""
    rule = rule_of(payload["signature"])
    return (*DEVICES[rule.family], rule.rule_id, rule.name)


def carries(payload: Record) -> bool:
    return payload.get("severity") in SEVERITY


def alert_id(record: Record) -> str:
    p = record["payload"]
    vendor, product, _, sid, _ = _device(p)
    return f"cef-{server_hash(vendor, product, sid, record['agency'], p['src_ip'], p['dest_ip'])}"


def render(record: Record) -> str:
    p = record["payload"]
    vendor, product, version, sid, name = _device(p)
    head = "|".join(
        _header_field(f)
        for f in ("CEF:0", vendor, product, version, sid, name, str(SEVERITY[p["severity"]]))
    )
    when = instant(record)
    extension = " ".join(
        f"{key}={_value(str(value))}"
        for key, value in (
            ("rt", epoch_millis(when)),
            ("src", p["src_ip"]),
            ("dst", p["dest_ip"]),
            ("dhost", p["asset"]),
            ("cs1Label", "agency"),
            ("cs1", record["agency"]),
            ("cat", CATEGORIES[p["category"]]),
            ("externalId", number(record["event_id"], 10**12)),
        )
    )
    line = f"{head}|{extension}"
    if vendor == "Wazuh":
        stamp = when.isoformat(timespec="milliseconds")
        return f"<132>1 {stamp} {SYSLOG_HOST} wazuh - - - {line}"
    return line


RENDERER = Renderer(
    name="cef",
    source="security",
    entity_key="alert_id",
    native_types=frozenset({"raised"}),
    carries=carries,
    render=render,
    entity_id=alert_id,
)
