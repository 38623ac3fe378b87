"""Canonical ingest records for tests, built small and explicit."""

from __future__ import annotations

from typing import Any

AGENCY = "000.00.31.H42"


def filing(
    event_id: str, filing_id: str, type_: str = "received", minute: int = 0
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": f"2026-11-22T09:{minute:02d}:00+07:00",
        "agency": AGENCY,
        "payload": {"filing_id": filing_id, "procedure_code": "1.004227.000.00.00.H42",
                    "channel": "online", "full_online": True},
    }  # fmt: skip


def document(event_id: str, document_id: str, type_: str = "received") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": "2026-11-22T09:30:00+07:00",
        "agency": AGENCY,
        "payload": {"document_id": document_id, "direction": "incoming", "signed": True},
    }


def alert(
    event_id: str, alert_id: str, severity: str = "high", type_: str = "raised"
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": "2026-11-22T09:45:00+07:00",
        "agency": AGENCY,
        "payload": {"alert_id": alert_id, "severity": severity, "category": "intrusion",
                    "asset": "portal.h42.gov.vn", "src_ip": "10.0.0.5"},
    }  # fmt: skip
