"""The processor's history cache: bounded in events, and a hit only while it matches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ioc.db.state import HistoryCache
from ioc.domains.base import StoredEvent

T0 = datetime(2026, 11, 24, 2, tzinfo=UTC)


def _history(entity: str, n: int) -> tuple[StoredEvent, ...]:
    return tuple(
        StoredEvent(f"{entity}-{i}", "received", T0 + timedelta(minutes=i), "A", {})
        for i in range(n)
    )


@dataclass
class _State:  # what the cache reads of a state row
    filing_id: str
    events: int
    last_event_id: str


def test_a_history_is_valid_only_for_the_state_folded_from_it() -> None:
    cache = HistoryCache(max_events=100)
    cache.put({("filings", "F-1"): _history("F-1", 3)})
    assert cache.valid_for("filings", _State("F-1", 3, "F-1-2")) == _history("F-1", 3)
    assert cache.valid_for("filings", _State("F-1", 4, "F-1-2")) is None  # one more stored
    assert cache.valid_for("filings", _State("F-1", 3, "other")) is None
    assert cache.valid_for("filings", _State("F-2", 1, "F-2-0")) is None
    assert (cache.hits, cache.misses) == (1, 3)


def test_the_least_recently_used_histories_go_first_when_over_the_bound() -> None:
    cache = HistoryCache(max_events=10)
    cache.put({("filings", "A"): _history("A", 4), ("filings", "B"): _history("B", 4)})
    assert cache.valid_for("filings", _State("A", 4, "A-3"))  # A is now the most recent
    cache.put({("filings", "C"): _history("C", 4)})  # 12 events: the oldest, B, goes
    assert cache.history("filings", "B") is None
    assert cache.history("filings", "A") and cache.history("filings", "C")
    cache.put({("filings", "A"): _history("A", 7)})  # replacing counts the difference
    assert cache.history("filings", "A") == _history("A", 7)
    assert len(cache) == 1 and cache.history("filings", "C") is None  # 7 + 4 > 10


def test_a_history_larger_than_the_bound_is_not_kept() -> None:
    cache = HistoryCache(max_events=5)
    cache.put({("filings", "A"): _history("A", 6)})
    assert len(cache) == 0
    assert HistoryCache(max_events=0).history("filings", "A") is None
