from datetime import UTC, datetime

from ioc.events import Event, validate_event
from streams.batch import Incoming, aggregate, first_of_each
from tests.records import alert, document, filing


def _event(source: str, record: dict) -> Event:
    event = validate_event(source, record)
    assert not isinstance(event, list), event
    return event


def _incoming(event: Event, offset: int) -> Incoming:
    return Incoming(event, datetime.now(UTC), f"ioc.{event.source}", 0, offset)


def test_repeats_inside_a_batch_are_dropped_keeping_the_first() -> None:
    a = _event("filings", filing("e1", "F-1"))
    b = _event("filings", filing("e2", "F-1", "resolved"))
    batch = [_incoming(a, 0), _incoming(b, 1), _incoming(a, 2)]
    assert [r.offset for r in first_of_each(batch)] == [0, 1]


def test_counts_per_source_and_per_minute() -> None:
    delta = aggregate([
        _event("filings", filing("e1", "F-1", "received", 1)),
        _event("filings", filing("e2", "F-2", "received", 1)),
        _event("filings", filing("e3", "F-3", "received", 2)),
        _event("documents", document("d1", "D-1")),
    ])  # fmt: skip
    assert delta.new_by_source == {"filings": 3, "documents": 1}
    assert delta.new_events == 4
    minute = datetime(2026, 11, 22, 2, 1, tzinfo=UTC)
    assert delta.per_minute[(minute, "filings", "received", "000.00.31.H42")] == 2


def test_a_batch_notes_the_entities_whose_state_must_be_refolded() -> None:
    delta = aggregate([
        _event("filings", filing("e1", "F-1", "received", 0)),
        _event("filings", filing("e2", "F-1", "resolved", 40)),
        _event("security", alert("s1", "A-1", "critical")),
        _event("documents", document("d1", "D-1")),
    ])  # fmt: skip
    assert delta.touched == {"filings": {"F-1"}, "security": {"A-1"}, "documents": {"D-1"}}
