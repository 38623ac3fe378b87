"""The domain folds on hand-computed histories, their invariants on generated ones, and the
state tables of the migration against the declarations they must match."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.clock import Clock, WallCalendar
from ioc.db.migrate import available_migrations
from ioc.domains import DOMAINS
from ioc.domains.base import StoredEvent, in_order
from ioc.domains.documents import fold as _fold_document
from ioc.domains.filings import TERMINAL, moved_due
from ioc.domains.filings import fold as fold_filing
from ioc.domains.security import fold as _fold_alert
from ioc.working_time import WorkingCalendar

WALL = WallCalendar()  # for what does not care about working time
CAL = WorkingCalendar.load()  # the shipped calendar


def fold_document(document_id: str, events: list[StoredEvent]) -> Any:
    return _fold_document(document_id, events, WALL)


def fold_alert(alert_id: str, events: list[StoredEvent]) -> Any:
    return _fold_alert(alert_id, events, WALL)


T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 08:00 in Vietnam
AGENCY = "000.00.31.H42"


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _ev(event_id: str, type_: str, hours: float, **payload: Any) -> StoredEvent:
    return StoredEvent(event_id, type_, _at(hours), AGENCY, payload)


def _filing(*events: StoredEvent) -> Any:
    return fold_filing("F-1", in_order(events), WALL)


DUE = _at(24 * 4 + 9).isoformat()  # Friday 17:00 in Vietnam
RECEIVED = _ev("e0", "received", 0, procedure_code="P", channel="online", due_at=DUE)


def test_a_filing_resolved_before_its_due_day_is_early_and_closed() -> None:
    state = _filing(RECEIVED, _ev("e1", "in_process", 1), _ev("e2", "resolved", 50))
    assert (state.verdict, state.is_open, state.status) == ("early", False, "resolved")
    assert state.processing_end_at == _at(50) and state.resolution_s == 50 * 3600
    assert state.channel == "online" and state.flags == ()


def test_resolved_on_the_due_day_is_on_time_and_after_it_late() -> None:
    assert _filing(RECEIVED, _ev("e1", "resolved", 24 * 4 + 2)).verdict == "on_time"
    assert _filing(RECEIVED, _ev("e1", "resolved", 24 * 4 + 9.5)).verdict == "late"


def test_766_priority_resolved_beats_an_earlier_result_returned() -> None:
    state = _filing(RECEIVED, _ev("e1", "result_returned", 2), _ev("e2", "resolved", 3))
    assert state.processing_end_at == _at(3)


def test_a_supplement_wait_is_not_counted_but_a_second_request_is_late() -> None:
    waited = _filing(
        RECEIVED,
        _ev("e1", "supplement_requested", 10),
        _ev("e2", "supplemented", 10 + 72),  # three days waiting for the citizen
        _ev("e3", "resolved", 24 * 4 + 9 + 70),  # 70 h after the due time
    )
    # Effective end: 70 h - 72 h = 2 h before the due time, on the due day.
    assert waited.verdict == "on_time" and waited.supplement_paused_s == 72 * 3600
    assert waited.supplement_requests == 1 and waited.supplement_open_since is None
    twice = _filing(
        RECEIVED,
        _ev("e1", "supplement_requested", 1), _ev("e2", "supplemented", 2),
        _ev("e3", "supplement_requested", 3), _ev("e4", "supplemented", 4),
        _ev("e5", "resolved", 5),
    )  # fmt: skip
    assert twice.verdict == "late" and twice.supplement_requests == 2


def test_a_wait_moves_the_due_date_by_its_working_time_not_its_wall_time() -> None:
    # Friday 27/11/2026 16:00 to Monday 30/11 09:00 in Vietnam: 65 h of wall time, 3 of
    # working time (Friday 16:00-17:00, Monday 07:00-09:00).
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    due = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # Tuesday 15:00
    wait = (friday, friday + timedelta(hours=65))
    # Tuesday 15:00-17:00 and Wednesday 07:00-08:00.
    assert moved_due(due, [wait], CAL) == datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    assert moved_due(due, [], CAL) == due and moved_due(None, [wait], CAL) is None
    assert moved_due(due, [wait], WALL) == due + timedelta(hours=65)

    def filing(resolved_at: datetime) -> Any:
        events = [
            StoredEvent("e0", "received", friday - timedelta(days=3), AGENCY,
                        {"procedure_code": "P", "channel": "online", "due_at": due.isoformat()}),
            StoredEvent("e1", "supplement_requested", wait[0], AGENCY, {}),
            StoredEvent("e2", "supplemented", wait[1], AGENCY, {}),
            StoredEvent("e3", "resolved", resolved_at, AGENCY, {}),
        ]  # fmt: skip
        return fold_filing("F-1", in_order(events), CAL)

    wednesday = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)  # 07:30, before the moved due
    assert (filing(wednesday).verdict, filing(wednesday).effective_due_at) == (
        "on_time",
        datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
    )
    # Wednesday 10:00 is late, though 10:00 less 65 h of wall time is before Tuesday.
    assert filing(wednesday + timedelta(hours=2.5)).verdict == "late"
    # And the clock: open after the wait, overdue from Wednesday 08:00 on, not Friday.
    timed = DOMAINS["filings"].timed
    open_ = replace(filing(wednesday), is_open=True, verdict="pending", processing_end_at=None)
    assert not timed(open_, Clock(now=datetime(2026, 12, 2, 0, 59, tzinfo=UTC))).overdue
    assert timed(open_, Clock(now=datetime(2026, 12, 2, 1, 1, tzinfo=UTC))).overdue


def test_an_open_supplement_request_shows_who_is_waiting() -> None:
    state = _filing(RECEIVED, _ev("e1", "supplement_requested", 5))
    assert state.is_open and state.verdict == "pending"
    assert state.supplement_open_since == _at(5) and state.status == "supplement_requested"


def test_a_later_event_without_a_field_keeps_it_and_a_later_value_wins() -> None:
    later_due = _at(24 * 6).isoformat()
    state = _filing(
        RECEIVED, _ev("e1", "in_process", 1), _ev("e2", "in_process", 2, due_at=later_due)
    )
    assert state.due_at == _at(24 * 6) and state.procedure_code == "P"
    assert _filing(RECEIVED, _ev("e1", "in_process", 1)).due_at == datetime.fromisoformat(DUE)


def test_the_resolution_is_also_counted_in_working_time_waits_excluded() -> None:
    # T0 is Monday 23/11/2026 08:00 in Vietnam; Tuesday 24/11 is a day off.
    def working(*events: StoredEvent) -> float | None:
        return fold_filing("F-1", in_order(events), CAL).resolution_working_s

    received = _ev("e0", "received", 0, procedure_code="P", channel="online")
    # Mon 08:00-11:30, 13:30-17:00 (7 h), Tuesday off, Wed 07:00-09:00 (2 h)
    assert working(received, _ev("e1", "resolved", 49)) == 9 * 3600
    # Withdrawn while waiting: the wait, Mon 16:00 to Wed 09:00 (1 h + 2 h), is not counted
    assert (
        working(received, _ev("e1", "supplement_requested", 8), _ev("e2", "withdrawn", 49))
        == 6 * 3600
    )
    # A supplement asked for before the receipt time the payload says: counted from it.
    late_receipt = _ev("e0", "received", 0, procedure_code="P", channel="online",
                       received_at=_at(2).isoformat())  # fmt: skip
    asked_before = working(
        late_receipt, _ev("e1", "supplement_requested", 1), _ev("e2", "supplemented", 3),
        _ev("e3", "resolved", 6.5),
    )  # fmt: skip
    # received 10:00, resolved 14:30: 10:00-11:30 and 13:30-14:30, less 10:00-11:00 of
    # the wait asked for at 09:00 (09:00-10:00 is not taken out: it was never counted)
    assert asked_before == 1.5 * 3600
    assert working(received, _ev("e1", "in_process", 1)) is None, "open: not yet"
    # On the wall calendar it is the wall-time resolution.
    wall = _filing(received, _ev("e1", "supplement_requested", 8), _ev("e2", "resolved", 49))
    assert wall.resolution_working_s == wall.resolution_s == 8 * 3600


def test_withdrawn_before_the_due_date_is_on_time_and_closes_the_filing() -> None:
    state = _filing(RECEIVED, _ev("e1", "withdrawn", 24 * 4 + 1))
    assert state.verdict == "on_time" and not state.is_open


def test_odd_histories_are_kept_and_flagged() -> None:
    no_receipt = _filing(_ev("e1", "in_process", 1), _ev("e2", "resolved", 2))
    assert [f.split(":")[0] for f in no_receipt.flags] == ["no_receipt", "no_due_date"]
    assert no_receipt.verdict == "no_due_date"
    twice = _filing(RECEIVED, _ev("e1", "received", 1, procedure_code="P", channel="online"))
    assert twice.flags == ("second_receipt: e1",)
    early_due = _ev("e1", "in_process", 1, due_at=_at(-5).isoformat())
    assert _filing(RECEIVED, early_due).flags[0].startswith("due_before_receipt")
    after = _filing(RECEIVED, _ev("e1", "resolved", 2), _ev("e2", "in_process", 3))
    assert after.flags == ("event_after_end: e2",) and not after.is_open


def test_a_document_keeps_its_first_steps_and_its_handling_time() -> None:
    state = fold_document("D-1", in_order([
        _ev("d1", "received", 0, direction="incoming", signed=True, due_at=_at(20).isoformat()),
        _ev("d2", "assigned", 1),
        _ev("d3", "done", 30),
        _ev("d4", "received", 31, direction="incoming"),
    ]))  # fmt: skip
    assert state.handling_s == 30 * 3600 and not state.is_open
    assert DOMAINS["documents"].timed(state, Clock(now=_at(40))).overdue, "done after due"
    assert state.signed is True and state.assigned_at == _at(1)
    assert state.flags == ("second_receipt: d4",)


def test_an_alert_keeps_its_highest_severity_and_its_times() -> None:
    state = fold_alert("A-1", in_order([
        _ev("s1", "raised", 0, severity="medium", category="intrusion"),
        _ev("s2", "raised", 0.5, severity="critical"),
        _ev("s3", "raised", 0.7, severity="low"),
        _ev("s4", "acknowledged", 1, actor="trực ban SOC"),
        _ev("s5", "resolved", 3),
    ]))  # fmt: skip
    assert state.severity == "critical" and state.occurrences == 3
    assert (state.ack_s, state.resolve_s) == (3600, 3 * 3600)
    assert state.acknowledged_by == "trực ban SOC" and not state.is_open
    reopened = fold_alert("A-1", in_order([
        _ev("s1", "raised", 0, severity="low", category="ddos"),
        _ev("s2", "resolved", 1), _ev("s3", "raised", 2),
    ]))  # fmt: skip
    assert reopened.is_open and reopened.resolved_at == _at(1)
    odd = fold_alert("A-2", in_order([_ev("s1", "resolved", 0)]))
    assert odd.flags == ("no_raise: first event is 'resolved'",) and not odd.is_open


# Generated histories: any types, any times, any subset of fields, any order of arrival.
_FILING_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "procedure_code": st.sampled_from(["P1", "P2"]),
        "channel": st.sampled_from(["online", "in_person", "postal"]),
        "due_at": st.integers(-48, 24 * 10).map(lambda h: _at(h).isoformat()),
        "received_at": st.integers(-48, 48).map(lambda h: _at(h).isoformat()),
        "paid_online": st.booleans(),
    },
)
_HISTORY = st.lists(
    st.tuples(
        st.sampled_from(DOMAINS["filings"].event_types),
        st.integers(0, 24 * 12),
        _FILING_FIELDS,
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(_HISTORY, st.randoms(use_true_random=False))
def test_a_filings_state_depends_on_its_events_not_on_their_arrival(
    history: list[tuple[str, int, dict[str, Any]]], rng: Any
) -> None:
    events = [
        _ev(f"e{i}", kind, hours, **fields) for i, (kind, hours, fields) in enumerate(history)
    ]
    arrived = list(events)
    rng.shuffle(arrived)
    state = fold_filing("F-1", in_order(arrived), CAL)
    assert state == fold_filing("F-1", in_order(events), CAL)
    assert state.events == len(events)
    assert state.is_open == (not any(e.type in TERMINAL for e in events))
    assert state.verdict in ("early", "on_time", "late", "pending", "no_due_date")
    assert (state.verdict == "pending") == state.is_open
    if state.supplement_requests > 1 and not state.is_open:
        assert state.verdict == "late"
    if state.due_at is not None:  # the waits only ever move the due date later
        assert state.effective_due_at is not None and state.effective_due_at >= state.due_at
    if state.verdict in ("early", "on_time") and state.due_at and state.processing_end_at:
        assert state.processing_end_at <= state.effective_due_at
    # Working time: known exactly when the wall-time resolution is, and between nothing
    # and the working time of the whole span (the waits only take time out).
    assert (state.resolution_working_s is None) == (state.resolution_s is None)
    end, received = state.processing_end_at, state.received_at
    if state.resolution_working_s is not None and end >= received:
        span = CAL.working_time_between(received, end).total_seconds()
        assert 0 <= state.resolution_working_s <= span <= (end - received).total_seconds()


_STATEMENT = re.compile(
    r"CREATE TABLE (?P<create>\w+) \((?P<body>.*?)\n\);"
    r"|ALTER TABLE (?P<alter>\w+) ADD COLUMN (?P<column>[^;]+);"
    r"|DROP TABLE (?P<drop>\w+);",
    re.S,
)


def _column(line: str) -> tuple[str, str, bool]:
    name, rest = line.strip().rstrip(",").split(None, 1)
    sql_type = re.sub(r"PRIMARY KEY|NOT NULL|DEFAULT \S+", "", rest).strip()
    return name, sql_type, "NOT NULL" not in rest


def _schema() -> dict[str, list[tuple[str, str, bool]]]:
    """Each table's columns (name, type, nullable) once every migration has run, in
    the order the table has them (a column added later comes last)."""
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    for _, sql in available_migrations():
        for match in _STATEMENT.finditer(sql):
            if match["create"]:
                lines = [line for line in match["body"].strip().splitlines() if line.strip()]
                tables[match["create"]] = [
                    _column(line) for line in lines if not line.strip().startswith("PRIMARY KEY")
                ]
            elif match["alter"]:
                tables[match["alter"]].append(_column(match["column"]))
            else:
                del tables[match["drop"]]
    return tables


def test_the_state_tables_of_the_migrations_are_the_declared_ones() -> None:
    tables = _schema()
    for domain in DOMAINS.values():
        declared = {
            c.name: (c.sql_type, c.nullable or c.name == domain.entity_field)
            for c in domain.columns()
        }
        in_sql = {name: (sql_type, nullable) for name, sql_type, nullable in
                  tables[domain.state_table]}  # fmt: skip
        assert in_sql == declared, domain.state_table


def test_the_rollup_tables_of_the_migrations_are_the_declared_ones() -> None:
    sql = (resources.files("ioc.db") / "migrations" / "0004_rollups.sql").read_text()
    created = {name: body for name, body, *_ in _STATEMENT.findall(sql) if name}
    tables = _schema()
    for domain in DOMAINS.values():
        rollup = domain.rollup
        columns = [name for name, _, _ in tables[rollup.table]]
        assert columns == ["day", *rollup.dims, *rollup.measures], rollup.table
        last = created[rollup.table].strip().splitlines()[-1].strip()
        assert last == f"PRIMARY KEY (day, {', '.join(rollup.dims)})"


def test_every_contribution_names_exactly_the_declared_measures() -> None:
    states = {
        "filings": _filing(RECEIVED, _ev("e1", "resolved", 5)),
        "documents": fold_document("D", [_ev("d", "received", 0, direction="incoming")]),
        "security": fold_alert("A", [_ev("s", "raised", 0, severity="low", category="ddos")]),
    }
    for source, state in states.items():
        rollup = DOMAINS[source].rollup
        ((key, measures),) = rollup.contribute(state).items()
        assert len(key) == 1 + len(rollup.dims)
        assert tuple(measures) == rollup.measures, source


def test_the_clock_makes_an_open_filing_at_risk_then_overdue_but_not_while_it_waits() -> None:
    timed = DOMAINS["filings"].timed
    due = datetime.fromisoformat(DUE)
    state = _filing(RECEIVED, _ev("e1", "in_process", 1))
    assert not timed(state, Clock(now=due - timedelta(hours=9))).at_risk
    at_risk = timed(state, Clock(now=due - timedelta(hours=7)))
    assert at_risk.at_risk and not at_risk.overdue
    overdue = timed(state, Clock(now=due + timedelta(seconds=1)))
    assert overdue.overdue and not overdue.at_risk
    waiting = _filing(RECEIVED, _ev("e1", "supplement_requested", 1))
    assert not timed(waiting, Clock(now=due + timedelta(days=3))).overdue
    # A closed wait moves the deadline by its length.
    waited = _filing(RECEIVED, _ev("e1", "supplement_requested", 1), _ev("e2", "supplemented", 25))
    assert not timed(waited, Clock(now=due + timedelta(hours=23))).overdue
    assert timed(waited, Clock(now=due + timedelta(hours=25))).overdue
    done = _filing(RECEIVED, _ev("e1", "resolved", 2))
    assert not timed(done, Clock(now=due + timedelta(days=30))).overdue


def test_the_at_risk_window_is_working_time() -> None:
    class Weekdays:  # 24-hour working days, Monday to Friday: enough to see the idea
        def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
            moment = start
            while duration > timedelta(0):
                step = min(duration, timedelta(hours=1))
                if moment.weekday() < 5:
                    duration -= step
                moment += step
            return moment

        def working_time_between(self, start: datetime, end: datetime) -> timedelta:
            raise NotImplementedError

    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    clock = Clock(now=friday_evening, calendar=Weekdays(), at_risk_within=timedelta(hours=8))
    state = _filing(_ev("e0", "received", 0, procedure_code="P", channel="online",
                        due_at=datetime(2026, 11, 30, 3, 0, tzinfo=UTC).isoformat()))  # fmt: skip
    # Due Monday 03:00: 55 h away on the wall, but within 8 h of working time.
    assert DOMAINS["filings"].timed(state, clock).at_risk


def test_an_alert_nobody_acknowledged_in_time_is_unattended() -> None:
    timed = DOMAINS["security"].timed
    raised = fold_alert("A", [_ev("s", "raised", 0, severity="high", category="malware")])
    assert not timed(raised, Clock(now=_at(0.2))).unattended
    assert timed(raised, Clock(now=_at(0.3))).unattended
    acked = fold_alert("A", in_order([
        _ev("s", "raised", 0, severity="high", category="malware"), _ev("a", "acknowledged", 0.1)
    ]))  # fmt: skip
    assert not timed(acked, Clock(now=_at(5))).unattended


def test_only_flags_an_entity_did_not_carry_before_are_counted_as_new() -> None:
    from ioc.db.state import new_flags

    domain = DOMAINS["filings"]
    before = _filing(_ev("e1", "in_process", 1))  # no receipt
    after = _filing(_ev("e1", "in_process", 1), _ev("e2", "received", 2, procedure_code="P",
                    channel="online"), _ev("e3", "received", 3))  # fmt: skip
    assert new_flags(domain, [], [before]) == Counter({"no_receipt": 1})
    assert new_flags(domain, [before], [before]) == Counter()
    # The receipts came after all: no_receipt is gone, a second receipt is new.
    assert new_flags(domain, [before], [after]) == Counter({"second_receipt": 1})
