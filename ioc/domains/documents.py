"""Document flow between agencies (văn bản đi/đến): payload and lifecycle.

An outgoing document is issued and sent by its sender; an incoming one is received,
assigned, processed and done (or returned/refused) at its receiver. State keeps the
first time of each step, so a redelivered or repeated step never moves it, and the
handling time is done - received. `overdue` here is what the events prove (done after
its due time); an open document past its due time is the clock's business.
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
    instant,
    latest,
    one,
    seconds,
    with_fields,
)
from ioc.domains.base import (
    ms as _ms,
)
from ioc.fields import AgencyCode, Identifier, Instant, ShortText, Strict
from ioc.working_time import VN_TZ

DocumentType = Literal[
    "issued", "sent", "received", "assigned", "processed", "done", "returned", "refused"
]
EVENT_TYPES: tuple[str, ...] = DocumentType.__args__  # type: ignore[attr-defined]
CLOSING: frozenset[str] = frozenset({"done", "returned", "refused"})
FIRST_STEPS: frozenset[str] = frozenset({"issued", "received"})


class DocumentPayload(Strict):
    """Only `document_id` is always required; an `issued` or `received` event must also
    say `direction`; later events may send only what changed."""

    document_id: Identifier
    direction: Literal["incoming", "outgoing"] | None = None
    electronic: bool | None = None
    signed: bool | None = None
    sender_agency: AgencyCode | None = None
    receiver_agency: AgencyCode | None = None
    document_type: ShortText | None = None
    due_at: Instant | None = None


@dataclass(frozen=True, slots=True)
class DocumentState:
    document_id: str
    agency: str
    direction: str | None
    electronic: bool | None
    signed: bool | None
    sender_agency: str | None
    receiver_agency: str | None
    document_type: str | None
    issued_at: datetime | None
    sent_at: datetime | None
    received_at: datetime | None
    assigned_at: datetime | None
    done_at: datetime | None
    returned_at: datetime | None  # returned or refused: an exchange failure
    due_at: datetime | None
    status: str
    is_open: bool
    handling_s: float | None
    overdue: bool  # done after its due time, or open past it (clock)
    events: int
    first_event_at: datetime
    last_event_at: datetime
    last_event_id: str
    flags: tuple[str, ...]


def fold(document_id: str, events: Sequence[StoredEvent], calendar: Calendar) -> DocumentState:
    """The state of a document from all its events, in order. `calendar` is not used: no
    measure of a document counts working time (yet)."""
    flags: list[Flag] = []
    received_at = first_at(events, "received")
    done_at = first_at(events, "done")
    returned_at = first_at(events, "returned", "refused")
    due_at = instant(latest(events, "due_at"))
    if events[0].type not in FIRST_STEPS:
        flags.append(Flag("no_first_step", f"first event is {events[0].type!r}"))
    receipts = [e.event_id for e in events if e.type == "received"]
    if len(receipts) > 1:
        flags.append(Flag("second_receipt", ", ".join(receipts[1:])))
    if done_at is not None and received_at is not None and done_at < received_at:
        flags.append(Flag("done_before_received", f"done {done_at.isoformat()}"))
    closed = next((e for e in events if e.type in CLOSING), None)
    last = events[-1]
    return DocumentState(
        document_id=document_id,
        agency=last.agency,
        direction=latest(events, "direction"),
        electronic=latest(events, "electronic"),
        signed=latest(events, "signed"),
        sender_agency=latest(events, "sender_agency"),
        receiver_agency=latest(events, "receiver_agency"),
        document_type=latest(events, "document_type"),
        issued_at=first_at(events, "issued"),
        sent_at=first_at(events, "sent"),
        received_at=received_at,
        assigned_at=first_at(events, "assigned"),
        done_at=done_at,
        returned_at=returned_at,
        due_at=due_at,
        status=last.type,
        is_open=closed is None,
        handling_s=seconds(received_at, done_at),
        overdue=False,
        events=len(events),
        first_event_at=events[0].occurred_at,
        last_event_at=last.occurred_at,
        last_event_id=last.event_id,
        flags=tuple(str(flag) for flag in flags),
    )


def timed(state: DocumentState, clock: Clock) -> DocumentState:
    """Overdue: done after its due time (a fact of the events) or open past it (the clock)."""
    late_done = state.done_at is not None and state.due_at is not None
    late_done = late_done and state.done_at > state.due_at  # type: ignore[operator]
    open_late = state.is_open and state.due_at is not None and clock.now > state.due_at
    value = late_done or open_late
    return with_fields(state, overdue=value)


def contribute(state: DocumentState) -> Contribution:
    """A document counts on its first day (Vietnam time), under its agency and direction."""
    day = state.first_event_at.astimezone(VN_TZ).date()
    done = state.done_at is not None
    return one(
        (day, state.agency, state.direction or ""),
        documents=True,
        received=state.received_at is not None,
        sent=state.sent_at is not None,
        electronic=state.electronic,
        signed=state.signed,
        done=done,
        failed=state.returned_at is not None,
        open=state.is_open,
        overdue=state.overdue,
        handling_ms_sum=_ms(state.handling_s) if done else 0,
        handled_count=done and state.handling_s is not None,
        flagged=bool(state.flags),
    )


ROLLUP = Rollup(
    table="document_day",
    dims=("agency", "direction"),
    measures=(
        "documents", "received", "sent", "electronic", "signed", "done", "failed", "open",
        "overdue", "handling_ms_sum", "handled_count", "flagged",
    ),
    contribute=contribute,
    current=("open", "overdue"),
)  # fmt: skip

DOMAIN = Domain(
    source="documents",
    entity_field="document_id",
    payload_model=DocumentPayload,
    event_types=EVENT_TYPES,
    creating_types=FIRST_STEPS,
    required_to_create=("direction",),
    state_type=DocumentState,
    state_table="document_state",
    fold=fold,
    rollup=ROLLUP,
    timed=timed,
    clock_fields=("overdue",),
    tick_where="is_open AND NOT overdue AND due_at < {now}",
)
