"""Online public-service filings (hồ sơ TTHC): payload, lifecycle and the Decision 766 verdict.

The verdict is indicator 2.1 of Decision 766/QĐ-TTg:
- the processing end is the time of the first terminal status by priority: resolved
  (*đã xử lý xong*) > result returned (*đã trả kết quả*) > refused (stopped) >
  withdrawn by the citizen;
- time between a supplement request and the citizen's supplement is not counted: as
  the provincial systems do it, the due date moves by each wait, *counted in working
  time* (`effective_due_at` = `NgayHenTra` + the working time of the waits, added in
  working time), so a wait over a weekend gives no more slack than its working hours;
  a wait still open when the filing ends runs to the end (the end is the request's
  time, in effect);
- more than one supplement request counts as late, whatever the dates;
- late when the end is after the effective due date; otherwise early when it falls on
  an earlier day (Vietnam time) than the effective due date, else on time (the
  date-part comparison one real provincial system uses);
- no due date: the verdict needs the procedure's legal processing time, which comes
  with the reference data; until then it is `no_due_date` and the filing is flagged;
- not finished: `pending` (whether it is overdue is a question of the clock, not of
  the events).
Resolution time, the mean the KPIs show: receipt to the processing end less the
supplement waits, kept twice - in wall time (`resolution_s`) and in working time
(`resolution_working_s`: only the working hours of working days count, in the
receipt-to-end span and in each wait alike). Working time needs the working calendar;
the fold takes it as an argument (the clock's, see `ioc.db.state.refold`) rather than
the writer adding it afterwards, so the state stays one pure function of the events and
the calendar, and a refold from the raw events with the same calendar gives the same
row. A finished filing keeps the working time of the calendar it was last folded
with: a day off announced after the fact reaches it when it is folded again.
Withdrawn (decided here, DOMAIN.md leaves it open): a citizen's withdrawal ends the
filing - it counts among received and finished filings, as 766 says - and is judged
like any end: a withdrawal before the due date is on time (the agency was not late),
one after it is late (the filing was already overdue when the citizen gave up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
from ioc.fields import FeeVnd, Identifier, Instant, Strict
from ioc.working_time import VN_TZ

FilingType = Literal[
    "received",
    "in_process",
    "supplement_requested",
    "supplemented",
    "resolved",
    "result_returned",
    "refused",
    "withdrawn",
]
EVENT_TYPES: tuple[str, ...] = FilingType.__args__  # type: ignore[attr-defined]
# 766 priority of terminal statuses for the processing end.
END_PRIORITY: tuple[str, ...] = ("resolved", "result_returned", "refused", "withdrawn")
TERMINAL: frozenset[str] = frozenset(END_PRIORITY)

Verdict = Literal["early", "on_time", "late", "pending", "no_due_date"]


class FilingPayload(Strict):
    """What a filing event carries. Only `filing_id` is always required; a `received`
    event must also say `procedure_code` and `channel`; later events may send only what
    changed (an omitted field keeps its known value)."""

    filing_id: Identifier  # MaHoSo
    procedure_code: Identifier | None = None  # MaTTHC
    channel: Literal["in_person", "online", "postal"] | None = None  # KenhThucHien 1/2/3
    full_online: bool | None = None  # toàn trình
    received_at: Instant | None = None  # NgayTiepNhan
    due_at: Instant | None = None  # NgayHenTra
    fee_vnd: FeeVnd | None = None
    paid_online: bool | None = None
    digitised: bool | None = None
    commune_code: Identifier | None = None


@dataclass(frozen=True, slots=True)
class FilingState:
    filing_id: str
    agency: str
    procedure_code: str | None
    commune_code: str | None
    channel: str | None
    full_online: bool | None
    fee_vnd: int | None
    paid_online: bool | None
    digitised: bool | None
    received_at: datetime | None
    due_at: datetime | None
    effective_due_at: datetime | None  # due_at moved by the waits, in working time
    status: str
    is_open: bool
    supplement_requests: int
    supplement_open_since: datetime | None  # waiting for the citizen since
    supplement_paused_s: float  # closed requests: time not counted
    processing_end_at: datetime | None
    verdict: str
    resolution_s: float | None  # effective end - received, paused time excluded
    resolution_working_s: float | None  # the same in working time (the calendar's)
    overdue: bool  # open and past its due time (clock)
    at_risk: bool  # open, not overdue, due within the at-risk window of working time (clock)
    events: int
    first_event_at: datetime
    last_event_at: datetime
    last_event_id: str
    flags: tuple[str, ...]


def _local_day(moment: datetime) -> date:
    return moment.astimezone(VN_TZ).date()


def judge(end: datetime | None, requests: int, effective_due: datetime | None) -> str:
    """Indicator 2.1's verdict for one filing, against its due date moved by the waits
    for the citizen (see the module docstring)."""
    if end is None:
        return "pending"
    if requests > 1:
        return "late"
    if effective_due is None:
        return "no_due_date"
    if end > effective_due:
        return "late"
    return "early" if _local_day(end) < _local_day(effective_due) else "on_time"


def moved_due(
    due: datetime | None, pauses: Sequence[tuple[datetime, datetime]], calendar: Calendar
) -> datetime | None:
    """The due date after the waits for the citizen: each wait's working time added to
    it in working time ("new due = old due + (supplemented - requested), recomputed in
    working time"). A wait from Friday 16:00 to Monday 09:00 is 3 working hours, so a
    due date of Tuesday 15:00 becomes Wednesday 08:00 (Tuesday 15:00-17:00, then 1 h of
    Wednesday), not Friday 08:00 as the 65 h of wall time would have it."""
    if due is None:
        return None
    waited = sum((calendar.working_time_between(start, stop) for start, stop in pauses),
                 timedelta())  # fmt: skip
    return calendar.add_working_time(due, waited) if waited > timedelta() else due


def working_resolution(
    received: datetime | None,
    end: datetime | None,
    pauses: Sequence[tuple[datetime, datetime]],
    calendar: Calendar,
) -> timedelta | None:
    """Working time from receipt to the processing end, less the working time of each
    wait for the citizen (a wait is counted from the receipt on, never before it).

    Friday 16:30 to Monday 08:00 is 1.5 h (16:30-17:00 and 07:00-08:00); a wait from
    Monday 09:00 to Tuesday 09:00 takes a whole working day (8 h) out."""
    if received is None or end is None:
        return None
    worked = calendar.working_time_between(received, end)
    for start, stop in pauses:
        worked -= calendar.working_time_between(max(start, received), max(stop, received))
    return worked


def fold(filing_id: str, events: Sequence[StoredEvent], calendar: Calendar) -> FilingState:
    """The state of one filing from all its events, in `(occurred_at, event_id)` order;
    working time counted in `calendar`."""
    flags: list[Flag] = []
    receipts = [e for e in events if e.type == "received"]
    received_at = instant(latest(events, "received_at")) or first_at(events, "received")
    due_at = instant(latest(events, "due_at"))
    end_event = next((e for kind in END_PRIORITY for e in events if e.type == kind), None)
    end = end_event.occurred_at if end_event is not None else None

    requests = 0
    open_since: datetime | None = None
    pauses: list[tuple[datetime, datetime]] = []  # the waits for the citizen
    for event in events:
        if end is not None and event.occurred_at > end:
            break  # what happens after the end does not change the verdict
        if event.type == "supplement_requested":
            requests += 1
            open_since = open_since or event.occurred_at
        elif event.type == "supplemented":
            if open_since is None:
                flags.append(Flag("supplemented_without_request", event.event_id))
            else:
                pauses.append((open_since, event.occurred_at))
                open_since = None
    if end is not None and open_since is not None:
        # Ended while waiting for the citizen: the wait until the end is not counted.
        pauses.append((open_since, end))
        open_since = None
    paused = sum(((stop - start).total_seconds() for start, stop in pauses), 0.0)

    if not receipts:
        flags.append(Flag("no_receipt", f"first event is {events[0].type!r}, not 'received'"))
    if len(receipts) > 1:
        flags.append(Flag("second_receipt", ", ".join(e.event_id for e in receipts[1:])))
    if received_at is not None and due_at is not None and due_at < received_at:
        flags.append(Flag("due_before_receipt", f"due {due_at.isoformat()}"))
    if end is not None and received_at is not None and end < received_at:
        flags.append(Flag("ended_before_receipt", f"ended {end.isoformat()}"))
    if end is not None:
        after = [e.event_id for e in events if e.occurred_at > end and e.type not in TERMINAL]
        if after:
            flags.append(Flag("event_after_end", ", ".join(after)))
    effective_due = moved_due(due_at, pauses, calendar)
    verdict = judge(end, requests, effective_due)
    if verdict == "no_due_date":
        flags.append(Flag("no_due_date", "finished without a due date"))
    resolution = seconds(received_at, end)
    working = working_resolution(received_at, end, pauses, calendar)
    last = events[-1]
    return FilingState(
        filing_id=filing_id,
        agency=(receipts[0] if receipts else last).agency,
        procedure_code=latest(events, "procedure_code"),
        commune_code=latest(events, "commune_code"),
        channel=latest(events, "channel"),
        full_online=latest(events, "full_online"),
        fee_vnd=latest(events, "fee_vnd"),
        paid_online=latest(events, "paid_online"),
        digitised=latest(events, "digitised"),
        received_at=received_at,
        due_at=due_at,
        effective_due_at=effective_due,
        status=last.type,
        is_open=end is None,
        supplement_requests=requests,
        supplement_open_since=open_since,
        supplement_paused_s=paused,
        processing_end_at=end,
        verdict=verdict,
        resolution_s=None if resolution is None else resolution - paused,
        resolution_working_s=None if working is None else working.total_seconds(),
        overdue=False,
        at_risk=False,
        events=len(events),
        first_event_at=events[0].occurred_at,
        last_event_at=last.occurred_at,
        last_event_id=last.event_id,
        flags=tuple(str(flag) for flag in flags),
    )


def timed(state: FilingState, clock: Clock) -> FilingState:
    """Overdue and at risk, for the time now. The clock stops while the filing waits for
    the citizen (766 does not count that time), so a waiting filing turns neither; once
    the wait is over the due date has moved by it (`effective_due_at`)."""
    due = state.effective_due_at
    if not state.is_open or due is None or state.supplement_open_since is not None:
        overdue = at_risk = False
    else:
        overdue = clock.now > due
        at_risk = not overdue and due <= clock.at_risk_horizon
    return with_fields(state, overdue=overdue, at_risk=at_risk)


def contribute(state: FilingState) -> Contribution:
    """A filing counts on the day it was received (Vietnam time), under its agency,
    procedure, commune and channel; unknown dimensions count under ''."""
    day = _local_day(state.received_at or state.first_event_at)
    key = (day, state.agency, state.procedure_code or "", state.commune_code or "",
           state.channel or "")  # fmt: skip
    fee_bearing = bool(state.fee_vnd)
    finished = not state.is_open
    return one(
        key,
        received=state.received_at is not None,
        online=state.channel == "online",
        full_online=state.full_online,
        fee_bearing=fee_bearing,
        paid_online=fee_bearing and state.paid_online,
        digitised=state.digitised,
        finished=finished,
        early=state.verdict == "early",
        on_time=state.verdict == "on_time",
        late=state.verdict == "late",
        no_due_date=state.verdict == "no_due_date",
        open=state.is_open,
        waiting=state.is_open and state.supplement_open_since is not None,
        overdue=state.overdue,
        at_risk=state.at_risk,
        supplement_requests=state.supplement_requests,
        resolution_ms_sum=_ms(state.resolution_s) if finished else 0,
        resolved_count=finished and state.resolution_s is not None,
        flagged=bool(state.flags),
        resolution_working_ms_sum=_ms(state.resolution_working_s) if finished else 0,
    )


ROLLUP = Rollup(
    table="filing_day",
    dims=("agency", "procedure_code", "commune_code", "channel"),
    measures=(
        "received", "online", "full_online", "fee_bearing", "paid_online", "digitised",
        "finished", "early", "on_time", "late", "no_due_date", "open", "waiting", "overdue",
        "at_risk",
        "supplement_requests", "resolution_ms_sum", "resolved_count", "flagged",
        "resolution_working_ms_sum",
    ),
    contribute=contribute,
    current=("open", "overdue", "at_risk", "waiting"),
    breakdowns=("channel",),  # received (and the rest) by channel
)  # fmt: skip

DOMAIN = Domain(
    source="filings",
    entity_field="filing_id",
    payload_model=FilingPayload,
    event_types=EVENT_TYPES,
    creating_types=frozenset({"received"}),
    required_to_create=("procedure_code", "channel"),
    state_type=FilingState,
    state_table="filing_state",
    fold=fold,
    rollup=ROLLUP,
    timed=timed,
    clock_fields=("overdue", "at_risk"),
    # The effective due date is never before due_at and the horizon never before now, so
    # `due_at <= {horizon}` bounds the scan to the open filings due by then (the
    # open-and-due index) without changing what is selected.
    tick_where="is_open AND supplement_open_since IS NULL AND due_at <= {horizon} AND ("
    "(NOT overdue AND effective_due_at < {now}) OR "
    "(NOT at_risk AND NOT overdue AND effective_due_at <= {horizon}))",
)
