"""Security alerts from the provincial SOC: payload and lifecycle.

An alert is raised (possibly many times: `occurrences`), acknowledged by someone on
call, and resolved. State keeps the first raise, the first acknowledgement (and who),
the first resolution after the raise, the highest severity ever seen (an alert that
was once critical stays critical), and the times to acknowledge and to resolve. A
raise after a resolution reopens the alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ioc.clock import Calendar, Clock
from ioc.domains.base import (
    Contribution,
    Domain,
    Flag,
    Rollup,
    StoredEvent,
    first_at,
    latest,
    one,
    seconds,
    with_fields,
)
from ioc.domains.base import (
    ms as _ms,
)
from ioc.fields import Identifier, IpAddress, ShortText, Strict
from ioc.working_time import VN_TZ

SecurityType = Literal["raised", "acknowledged", "resolved"]
EVENT_TYPES: tuple[str, ...] = SecurityType.__args__  # type: ignore[attr-defined]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")  # most severe first
_RANK = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}
Category = Literal[
    "malware", "intrusion", "web_defacement", "ddos", "vulnerability", "policy", "phishing",
    "other",
]  # fmt: skip


class SecurityPayload(Strict):
    """Only `alert_id` is always required; a `raised` event must also say `severity` and
    `category`; an acknowledgement may name who acknowledged (`actor`)."""

    alert_id: Identifier
    severity: Severity | None = None
    category: Category | None = None
    asset: ShortText | None = None
    signature: ShortText | None = None
    src_ip: IpAddress | None = None
    dest_ip: IpAddress | None = None
    actor: ShortText | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    alert_id: str
    agency: str
    severity: str | None  # the highest seen
    category: str | None
    asset: str | None
    signature: str | None
    src_ip: str | None
    dest_ip: str | None
    raised_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    status: str
    is_open: bool
    occurrences: int
    ack_s: float | None  # time to acknowledge
    resolve_s: float | None  # time to resolve
    unattended: bool  # open and not acknowledged within the acknowledgement time (clock)
    events: int
    first_event_at: datetime
    last_event_at: datetime
    last_event_id: str
    flags: tuple[str, ...]


def fold(alert_id: str, events: Sequence[StoredEvent], calendar: Calendar) -> AlertState:
    """The state of an alert from all its events, in order. `calendar` is not used: no
    measure of an alert counts working time (yet)."""
    flags: list[Flag] = []
    raises = [e for e in events if e.type == "raised"]
    raised_at = raises[0].occurred_at if raises else None
    ack = next((e for e in events if e.type == "acknowledged"), None)
    resolved_at = first_at(events, "resolved")
    if not raises:
        flags.append(Flag("no_raise", f"first event is {events[0].type!r}"))
    elif resolved_at is not None and raised_at is not None and resolved_at < raised_at:
        flags.append(Flag("resolved_before_raised", f"resolved {resolved_at.isoformat()}"))
    if ack is not None and raised_at is not None and ack.occurred_at < raised_at:
        flags.append(Flag("acknowledged_before_raised", ack.event_id))
    seen = [e.payload.get("severity") for e in events if e.payload.get("severity")]
    lifecycle = [e for e in events if e.type in ("raised", "resolved")]
    last = events[-1]
    return AlertState(
        alert_id=alert_id,
        agency=(raises[0] if raises else last).agency,
        severity=max(seen, key=lambda s: _RANK.get(str(s), -1)) if seen else None,
        category=latest(events, "category"),
        asset=latest(events, "asset"),
        signature=latest(events, "signature"),
        src_ip=latest(events, "src_ip"),
        dest_ip=latest(events, "dest_ip"),
        raised_at=raised_at,
        acknowledged_at=ack.occurred_at if ack else None,
        acknowledged_by=ack.payload.get("actor") if ack else None,
        resolved_at=resolved_at,
        status=last.type,
        is_open=not lifecycle or lifecycle[-1].type != "resolved",
        occurrences=len(raises),
        ack_s=seconds(raised_at, ack.occurred_at if ack else None),
        resolve_s=seconds(raised_at, resolved_at),
        unattended=False,
        events=len(events),
        first_event_at=events[0].occurred_at,
        last_event_at=last.occurred_at,
        last_event_id=last.event_id,
        flags=tuple(str(flag) for flag in flags),
    )


def timed(state: AlertState, clock: Clock) -> AlertState:
    """Unattended: open, never acknowledged, raised longer ago than the clock allows."""
    unattended = (
        state.is_open
        and state.acknowledged_at is None
        and state.raised_at is not None
        and state.raised_at < clock.ack_deadline
    )
    return with_fields(state, unattended=unattended)


def contribute(state: AlertState) -> Contribution:
    """An alert counts on the day it was raised (Vietnam time), under its agency,
    highest severity and category."""
    day = (state.raised_at or state.first_event_at).astimezone(VN_TZ).date()
    return one(
        (day, state.agency, state.severity or "", state.category or ""),
        alerts=True,
        open=state.is_open,
        acknowledged=state.acknowledged_at is not None,
        resolved=state.resolved_at is not None,
        unattended=state.unattended,
        occurrences=state.occurrences,
        ack_ms_sum=_ms(state.ack_s),
        ack_count=state.ack_s is not None,
        resolve_ms_sum=_ms(state.resolve_s),
        resolve_count=state.resolve_s is not None,
        flagged=bool(state.flags),
    )


ROLLUP = Rollup(
    table="alert_day",
    dims=("agency", "severity", "category"),
    measures=(
        "alerts", "open", "acknowledged", "resolved", "unattended", "occurrences", "ack_ms_sum",
        "ack_count", "resolve_ms_sum", "resolve_count", "flagged",
    ),
    contribute=contribute,
    current=("open", "unattended"),
    current_dim="severity",
    breakdowns=("severity", "category", "agency"),  # open by severity and category, agencies
)  # fmt: skip

DOMAIN = Domain(
    source="security",
    entity_field="alert_id",
    payload_model=SecurityPayload,
    event_types=EVENT_TYPES,
    creating_types=frozenset({"raised"}),
    required_to_create=("severity", "category"),
    state_type=AlertState,
    state_table="alert_state",
    fold=fold,
    rollup=ROLLUP,
    timed=timed,
    clock_fields=("unattended",),
    tick_where="is_open AND NOT unattended AND acknowledged_at IS NULL"
    " AND raised_at < {ack_deadline}",
)
