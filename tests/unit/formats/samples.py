"""Realistic records of each security format, written from the formats' public documentation
(Suricata's EVE JSON output, Wazuh's alerts.json, the ArcSight CEF specification, Elastic
Common Schema), with addresses and names of a provincial network."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from ingestors.formats import MapContext

AGENCY = "000.00.31.H42"
RECEIVED = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def ctx(agency: str | None = AGENCY) -> MapContext:
    return MapContext(source="security", received_at=RECEIVED, agency=agency)


# Suricata EVE: an alert (shape of the EVE docs' example, with Suricata 7's flow_id,
# in_iface, app_proto and the http object) and a dns record.
SURICATA_ALERT: dict[str, Any] = {
    "timestamp": "2026-11-22T09:45:00.123456+0700",
    "flow_id": 1676750115612680,
    "in_iface": "eth0",
    "event_type": "alert",
    "src_ip": "203.0.113.7",
    "src_port": 51544,
    "dest_ip": "10.20.0.15",
    "dest_port": 80,
    "proto": "TCP",
    "app_proto": "http",
    "alert": {
        "action": "allowed",
        "gid": 1,
        "signature_id": 2006446,
        "rev": 14,
        "signature": "ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT",
        "category": "Web Application Attack",
        "severity": 1,
    },
    "http": {
        "hostname": "dichvucong.hatinh.gov.vn",
        "url": "/portal/search?q=1%20UNION%20SELECT%20password%20FROM%20users",
        "http_user_agent": "sqlmap/1.7",
        "http_method": "GET",
        "status": 403,
    },
}
SURICATA_DNS: dict[str, Any] = {
    "timestamp": "2026-11-22T09:45:01.000120+0700",
    "flow_id": 1391985553049321,
    "event_type": "dns",
    "src_ip": "10.20.0.31",
    "src_port": 53212,
    "dest_ip": "10.20.0.2",
    "dest_port": 53,
    "proto": "UDP",
    "dns": {"type": "query", "id": 16000, "rrname": "dichvucong.gov.vn", "rrtype": "A"},
}

# Wazuh alerts.json: rule 5710 as Wazuh's docs show it, on an agent with an agency label.
WAZUH_ALERT: dict[str, Any] = {
    "timestamp": "2026-11-22T09:46:12.345+0700",
    "rule": {
        "level": 5,
        "description": "sshd: Attempt to login using a non-existent user",
        "id": "5710",
        "mitre": {"id": ["T1110"], "tactic": ["Credential Access"], "technique": ["Brute Force"]},
        "firedtimes": 1,
        "mail": False,
        "groups": ["syslog", "sshd", "invalid_login", "authentication_failed"],
        "pci_dss": ["10.2.4", "10.2.5", "10.6.1"],
    },
    "agent": {
        "id": "001",
        "name": "motcua-web-01",
        "ip": "10.20.0.21",
        "labels": {"agency": "000.00.12.H42"},
    },
    "manager": {"name": "wazuh-manager"},
    "id": "1763779572.2234",
    "full_log": "Nov 22 09:46:10 motcua-web-01 sshd[1846]: Invalid user admin from "
    "203.0.113.9 port 53352",
    "predecoder": {"program_name": "sshd", "timestamp": "Nov 22 09:46:10"},
    "decoder": {"parent": "sshd", "name": "sshd"},
    "data": {"srcip": "203.0.113.9", "srcport": "53352", "srcuser": "admin"},
    "location": "/var/log/auth.log",
}

# CEF: the specification's own examples, and one as a syslog relay sends it.
_TM = "CEF:0|security|threatmanager|1.0|100|"
CEF_SPEC = _TM + "worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232"
CEF_PIPE = _TM + "detected a \\| in message|10|src=10.0.0.1 act=blocked a | dst=1.1.1.1"
CEF_BACKSLASH = _TM + "detected a \\\\ in packet|10|src=10.0.0.1 act=blocked a \\\\ dst=1.1.1.1"
CEF_EQUALS = _TM + "detected a = in message|10|src=10.0.0.1 act=blocked a \\= dst=1.1.1.1"
CEF_SYSLOG = (
    "<134>Nov 22 09:47:00 fw-tinh CEF:0|Fortinet|FortiGate|7.2.5|13056|"
    "HTTP.URI.SQL.Injection|High|src=203.0.113.7 dst=10.20.0.15 "
    "dhost=dichvucong.hatinh.gov.vn act=dropped cat=ips "
    "msg=SQL injection \\= blocked cs1Label=agency cs1=000.00.31.H42 rt=1795315620000"
)

# ECS: an Elastic Security alert (nested) and a plain event.
ECS_ALERT: dict[str, Any] = {
    "@timestamp": "2026-11-22T02:48:00.000Z",
    "ecs": {"version": "8.11.0"},
    "event": {
        "kind": "alert",
        "category": ["malware"],
        "type": ["info"],
        "severity": 73,
        "id": "c2f3a0e4-5b1d-4c7e-9a4b-1f2e3d4c5b6a",
        "module": "endpoint",
    },
    "rule": {"id": "9a1a2dae-0b5f-4c3d-8305-a268d404c306", "name": "Malware Prevention Alert"},
    "threat": {"framework": "MITRE ATT&CK", "tactic": {"name": ["Execution"]}},
    "host": {"name": "vpub-pc-017", "ip": ["10.20.3.17"]},
    "source": {"ip": "10.20.3.17"},
    "destination": {"ip": "198.51.100.23", "port": 443},
    "organization": {"id": "000.00.15.H42", "name": "So Tai chinh"},
    "message": "Malware Prevention Alert",
}
ECS_EVENT: dict[str, Any] = {
    "@timestamp": "2026-11-22T02:48:01.000Z",
    "ecs": {"version": "8.11.0"},
    "event": {"kind": "event", "category": ["network"]},
    "source": {"ip": "10.20.3.17"},
}


def fresh(record: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(record)
