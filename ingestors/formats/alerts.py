"""What the security formats share: severity scales, the category keywords, the agency,
and the canonical `raised` event they all map an alert to.

One place for each decision, so Suricata, Wazuh, CEF and ECS stay consistent:

- **Severity** (IOC's low / medium / high / critical), each source's scale in one table:

  | source | low | medium | high | critical |
  |---|---|---|---|---|
  | Suricata `alert.severity` (1 most severe) | 3 and above | 2 | 1 | — |
  | Wazuh `rule.level` (0–16) | 0–6 | 7–11 | 12–14 | 15–16 |
  | CEF Severity (0–10) | 0–3, `Low`, `Unknown` | 4–6, `Medium` | 7–8, `High` | 9–10, `Very-High` |
  | ECS `event.severity` (0–100, Elastic's risk scale) | 0–39 | 40–69 | 70–89 | 90–100 |

  Suricata's priorities and Wazuh's levels are the sources' own; the cuts are IOC's
  choice: Wazuh's from its own level descriptions (12 "high importance event", 15
  "severe attack"), CEF's from the CEF specification (9–10 "very high"), ECS's so that
  Elastic Security's defaults (21, 47, 73, 99) land on low, medium, high, critical.
  Suricata has no critical: its priority 1 covers every trojan and web attack rule.
- **Category**: the first category whose keywords appear in the source's category
  text (Suricata's classtype, Wazuh's rule groups, CEF's `cat`, ECS's
  `event.category`), then in the alert's name; `other` when none does (`KEYWORDS`).
- **Agency**: where the record names one (each format says where), else the
  request's `?agency=`; a record with neither is refused, saying where to put it.
- **Alert id** (the entity): one per rule and the pair of hosts it fired on, in one
  agency, so that the same attack firing again is another occurrence of the same
  alert (reopened if it was resolved), not a new line on the wall screen.
"""

from __future__ import annotations

import re
from datetime import datetime
from ipaddress import ip_address
from typing import Any

from ingestors.formats.base import Issue, MapContext, Mapped, iso, shown

MAX_TEXT = 500  # ShortText in the event model

# (category, keywords): a keyword matches at the start of a word; "*" ends a prefix.
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("web_defacement", ("deface*",)),
    ("phishing", ("phish*", "social engineering", "credential theft")),
    ("ddos", ("denial of service", "ddos", "dos", "flood*", "attempted dos", "successful dos")),
    (
        "malware",
        (
            "malware",
            "trojan*",
            "virus*",
            "worm*",
            "ransom*",
            "rootkit*",
            "rootcheck",
            "backdoor*",
            "botnet*",
            "command and control",
            "c2",
            "cnc",
            "exploit kit",
            "coin min*",
            "mining",
            "miner",
            "unwanted program",
            "pup",
            "shellcode",
            "executable code",
            "eicar",
            "spyware",
            "adware",
            "virustotal",
        ),
    ),
    ("vulnerability", ("vulnerab*", "cve", "potentially vulnerable", "web application activity")),
    (
        "policy",
        (
            "policy",
            "privacy",
            "inappropriate",
            "compliance",
            "syscheck",
            "integrity",
            "external ip",
        ),
    ),
    (
        "intrusion",
        (
            "intrusion*",
            "attack*",
            "exploit*",
            "privilege*",
            "scan*",
            "recon*",
            "information leak",
            "brute*",
            "authentication fail*",
            "login*",
            "injection",
            "sql*",
            "xss",
            "attempted*",
            "unauthori*",
            "suspicious login",
            "lateral movement",
        ),
    ),
)


def _pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    parts = [
        re.escape(k[:-1]) if k.endswith("*") else re.escape(k) + r"(?![a-z0-9])" for k in keywords
    ]
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + ")")


_CATEGORIES = tuple((category, _pattern(words)) for category, words in KEYWORDS)


def categorise(*texts: Any) -> str:
    """The IOC category of the first text that names one (see `KEYWORDS`), else `other`."""
    for text in texts:
        if isinstance(text, list | tuple):
            text = " ".join(str(t) for t in text if isinstance(t, str))
        if not isinstance(text, str) or not text:
            continue
        plain = re.sub(r"[_\-./:]+", " ", text.lower())
        for category, pattern in _CATEGORIES:
            if pattern.search(plain):
                return category
    return "other"


def text(value: Any, where: str, warnings: list[Issue]) -> str | None:
    """A free-text value, cut to what IOC stores (with a warning), None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        value = str(value) if isinstance(value, int | float) else None
        if value is None:
            return None
    if len(value) > MAX_TEXT:
        warnings.append(Issue(where, f"longer than {MAX_TEXT} characters; cut", "truncated"))
        return value[: MAX_TEXT - 3] + "..."
    return value


def ip(value: Any, where: str, errors: list[Issue]) -> str | None:
    """An IP address as text, None when absent; an error when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return str(ip_address(value.strip()))
        except ValueError:
            pass
    errors.append(Issue(where, f"{shown(value)} is not an IP address"))
    return None


def is_private(address: str | None) -> bool:
    if address is None:
        return False
    try:
        return ip_address(address).is_private
    except ValueError:
        return False


def agency(found: Any, where: str, ctx: MapContext, errors: list[Issue]) -> tuple[str, str]:
    """(agency code, the field it came from): the record's own, else `?agency=`."""
    if isinstance(found, str) and found.strip():
        return found.strip(), where
    if found is not None and not isinstance(found, str):
        errors.append(Issue(where, f"must be an agency code (text), got {shown(found)}"))
        return "", where
    if ctx.agency:
        return ctx.agency.strip(), "?agency="
    errors.append(
        Issue(
            where,
            "no agency: the record names none here and the request has no ?agency=; "
            "send the agency code (e.g. 000.00.31.H42) in one of them",
        )
    )
    return "", where


def raised(
    *,
    event_id: str,
    alert_id: str,
    occurred_at: datetime,
    agency_code: str,
    severity: str,
    category: str,
    asset: str | None,
    signature: str | None,
    src_ip: str | None,
    dest_ip: str | None,
) -> dict[str, Any]:
    """The canonical `raised` event of a security alert."""
    payload: dict[str, Any] = {"alert_id": alert_id, "severity": severity, "category": category}
    for name, value in (
        ("asset", asset), ("signature", signature), ("src_ip", src_ip), ("dest_ip", dest_ip)
    ):  # fmt: skip
        if value is not None:
            payload[name] = value
    return {
        "event_id": event_id,
        "type": "raised",
        "occurred_at": iso(occurred_at),
        "agency": agency_code,
        "payload": payload,
    }


def refused(errors: list[Issue], warnings: list[Issue]) -> Mapped:
    return Mapped(errors=errors, warnings=warnings)
