"""The database sink against a real PostgreSQL: idempotent, new rows only, state never
rolled back by a late or repeated event."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from ioc.clock import wall_clock
from ioc.config import Settings
from ioc.db.kpis import kpi_snapshot
from ioc.db.state import refold_all
from ioc.events import Event, validate_event
from streams import sink as sink_module
from streams.batch import Incoming
from streams.sink import DatabaseSink
from tests.records import alert, document, filing

pytestmark = pytest.mark.integration


def _batch(*pairs: tuple[str, dict]) -> list[Incoming]:
    out = []
    for offset, (source, record) in enumerate(pairs):
        event = validate_event(source, record)
        assert isinstance(event, Event), event
        out.append(Incoming(event, datetime.now(UTC), f"t.{source}", 0, offset))
    return out


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database_url)
    yield connection
    await connection.close()


async def test_writing_a_batch_twice_stores_and_counts_it_once(conn: asyncpg.Connection) -> None:
    sink = DatabaseSink(conn)
    batch = _batch(
        ("filings", filing("f1", "F-1", "received", 1)),
        ("filings", filing("f2", "F-2", "received", 1)),
        ("documents", document("d1", "D-1")),
        ("security", alert("s1", "A-1", "critical")),
    )
    first = await sink.write(batch)
    assert first.delta.new_events == 4 and first.duplicates == 0
    again = await sink.write(batch)
    assert again.delta.new_events == 0 and again.duplicates == 4
    assert (await kpi_snapshot(conn))["events"] == {"documents": 1, "filings": 2, "security": 1}
    per_minute = await conn.fetchval(
        "SELECT events FROM event_counts_minute WHERE source = 'filings' AND event_type = $1",
        "received",
    )
    assert per_minute == 2


async def test_a_late_event_never_rolls_state_back(conn: asyncpg.Connection) -> None:
    sink = DatabaseSink(conn)
    await sink.write(_batch(("filings", filing("f2", "F-1", "resolved", 40))))
    late = await sink.write(_batch(("filings", filing("f1", "F-1", "received", 0))))
    assert late.delta.new_events == 1  # the event itself is new and counted...
    status = await conn.fetchval("SELECT status FROM filing_state WHERE filing_id = 'F-1'")
    assert status == "resolved"  # ...but the filing stays resolved
    assert (await kpi_snapshot(conn))["filings"]["open"] == 0


async def test_alert_state_follows_its_lifecycle(conn: asyncpg.Connection) -> None:
    sink = DatabaseSink(conn)
    await sink.write(_batch(("security", alert("s1", "A-1", "high"))))
    assert (await kpi_snapshot(conn))["security"]["open_by_severity"]["high"] == 1
    later = alert("s2", "A-1", "high", "resolved")
    later["occurred_at"] = "2026-11-22T10:45:00+07:00"
    await sink.write(_batch(("security", later)))
    assert (await kpi_snapshot(conn))["security"]["open"] == 0


async def test_recent_counts_follow_the_clock(conn: asyncpg.Connection) -> None:
    sink = DatabaseSink(conn)
    await sink.write(_batch(("documents", document("d1", "D-1"))))  # at 02:30 UTC
    at = datetime(2026, 11, 22, 2, 40, tzinfo=UTC)
    assert (await kpi_snapshot(conn, now=at))["events_last_15_min"]["documents"] == 1
    later = datetime(2026, 11, 22, 2, 46, tzinfo=UTC)
    assert (await kpi_snapshot(conn, now=later))["events_last_15_min"]["documents"] == 0
    # An event stamped in the future (a source with a wrong clock) is not "recent".
    earlier = datetime(2026, 11, 22, 2, 20, tzinfo=UTC)
    assert (await kpi_snapshot(conn, now=earlier))["events_last_15_min"]["documents"] == 0


async def test_new_repeated_and_partly_repeated_batches_in_any_sequence_store_each_event_once(
    conn: asyncpg.Connection,
) -> None:
    # A wholly new batch is COPied straight into `events`; one with a repeat goes through
    # the staging table, and the sink stays on that way until a batch is new again.
    sink = DatabaseSink(conn)
    documents = [_batch(("documents", document(f"d{i}", f"D-{i}")))[0] for i in range(8)]
    sequence = [
        (documents[0:3], 3),  # new
        (documents[0:3], 0),  # all repeated
        (documents[2:5], 2),  # partly repeated, right after a refused COPY
        (documents[5:6], 1),  # new again
        (documents[4:7], 1),  # partly repeated, right after a wholly new batch
        (documents[7:8], 1),
        (documents, 0),
    ]
    for batch, new in sequence:
        result = await sink.write(batch)
        assert (result.delta.new_events, result.duplicates) == (new, len(batch) - new)
    assert await conn.fetchval("SELECT count(*) FROM events") == 8
    assert await conn.fetchval("SELECT events FROM event_totals WHERE source = 'documents'") == 8
    assert await conn.fetchval("SELECT count(*) FROM document_state WHERE events = 1") == 8


async def test_two_writers_storing_overlapping_batches_at_once_store_each_event_once(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    # The first writer holds its transaction open after inserting; the second one's COPY
    # waits on those rows, is refused once the first commits, and takes the long way.
    filings = [_batch(("filings", filing(f"f{i}", f"F-{i}", "received", i)))[0] for i in range(6)]
    inserted, release = asyncio.Event(), asyncio.Event()

    async def hold(point: str) -> None:
        if point == "mid_batch":
            inserted.set()
            await release.wait()

    other = await asyncpg.connect(settings.database_url)
    try:
        first = asyncio.create_task(DatabaseSink(conn, fault=hold).write(filings[:4]))
        await inserted.wait()
        second = asyncio.create_task(DatabaseSink(other).write(filings[2:]))
        await asyncio.sleep(0.3)  # let the second COPY reach the first's rows and wait
        assert not second.done()
        release.set()
        results = await asyncio.gather(first, second)
    finally:
        await other.close()
    assert [r.delta.new_events for r in results] == [4, 2]
    assert results[1].duplicates == 2
    assert await conn.fetchval("SELECT count(*) FROM events") == 6
    assert await conn.fetchval("SELECT events FROM event_totals WHERE source = 'filings'") == 6
    assert await conn.fetchval("SELECT count(*) FROM filing_state") == 6


def _poisoned(pair: tuple[str, dict], **changes: object) -> Incoming:
    """A record as the database would see it if something upstream let it through:
    built without validation, so that only the database can refuse it."""
    (record,) = _batch(pair)
    event = record.event
    payload_changes = {k: v for k, v in changes.items() if k in type(event.payload).model_fields}
    event_changes = {k: v for k, v in changes.items() if k not in payload_changes}
    poisoned = event.model_copy(
        update={**event_changes, "payload": event.payload.model_copy(update=payload_changes)}
    )
    return Incoming(poisoned, record.ingested_at, record.topic, 0, 99, raw=b"poison")


POISON = {
    "nul_in_text_column": (("documents", document("p1", "D-P1")), {"agency": "000.00\x0031.H42"}),
    "nul_in_json_payload": (("security", alert("p2", "A-P2")), {"asset": "web\x00server"}),
    "lone_surrogate": (("security", alert("p3", "A-P3")), {"signature": "ET \ud800 scan"}),
    "key_too_large_for_index": (
        ("filings", filing("p4", "F-P4")),
        {"event_id": secrets.token_hex(6000)},
    ),
    "not_null_violation": (("filings", filing("p5", "F-P5")), {"agency": None}),
}


@pytest.mark.parametrize("kind", sorted(POISON))
async def test_a_poison_record_is_refused_alone_and_the_rest_is_stored(
    conn: asyncpg.Connection, kind: str
) -> None:
    pair, changes = POISON[kind]
    good = _batch(*[("filings", filing(f"g{i}", f"F-G{i}", "received", i % 60)) for i in range(40)])
    poison = _poisoned(pair, **changes)
    batch = [*good[:17], poison, *good[17:]]

    result = await DatabaseSink(conn).write(batch)

    assert [r.record for r in result.refused] == [poison]
    assert result.refused[0].reason, "the database's reason travels with the record"
    assert result.delta.new_events == 40 and result.duplicates == 0
    assert (await kpi_snapshot(conn))["events"] == {"documents": 0, "filings": 40, "security": 0}
    assert await conn.fetchval("SELECT count(*) FROM events") == 40
    assert await conn.fetchval("SELECT count(*) FROM filing_state") == 40
    # The same batch again: the good records are duplicates, the poison is refused again.
    again = await DatabaseSink(conn).write(batch)
    assert [r.record for r in again.refused] == [poison] and again.duplicates == 40


async def test_several_poison_records_among_many_are_each_isolated(
    conn: asyncpg.Connection,
) -> None:
    good = _batch(*[("documents", document(f"g{i}", f"D-G{i}")) for i in range(500)])
    poisons = [_poisoned(pair, **changes) for pair, changes in POISON.values()]
    batch = list(good)
    for i, poison in enumerate(poisons):
        batch.insert(i * 97 + 3, poison)

    result = await DatabaseSink(conn).write(batch)

    assert sorted(r.record.event.event_id for r in result.refused) == sorted(
        p.event.event_id for p in poisons
    )
    assert result.delta.new_events == 500
    assert await conn.fetchval("SELECT count(*) FROM events") == 500
    assert await conn.fetchval("SELECT events FROM event_totals WHERE source = 'documents'") == 500


async def test_an_error_of_the_database_itself_is_raised_not_blamed_on_the_rows(
    conn: asyncpg.Connection,
) -> None:
    await conn.execute("ALTER TABLE event_counts_minute RENAME TO event_counts_elsewhere")
    batch = _batch(("filings", filing("f1", "F-1")))
    with pytest.raises(asyncpg.UndefinedTableError):
        await DatabaseSink(conn).write(batch)
    assert await conn.fetchval("SELECT count(*) FROM events") == 0


async def test_state_rebuilt_from_the_raw_events_equals_the_state_kept_batch_by_batch(
    conn: asyncpg.Connection,
) -> None:
    sink = DatabaseSink(conn)
    await sink.write(_batch(("filings", filing("f1", "F-1", "received", 1))))
    await sink.write(_batch(("filings", filing("f2", "F-1", "resolved", 30))))
    await sink.write(_batch(("security", alert("s1", "A-1", "critical"))))
    await sink.write(_batch(("documents", document("d1", "D-1"))))
    kept = {t: await conn.fetch(f"SELECT * FROM {t} ORDER BY 1") for t in _STATE_TABLES}
    for table in _STATE_TABLES:
        await conn.execute(f"TRUNCATE {table}")
    async with conn.transaction():
        for source in ("filings", "security", "documents"):
            await refold_all(conn, source, wall_clock())
    rebuilt = {t: await conn.fetch(f"SELECT * FROM {t} ORDER BY 1") for t in _STATE_TABLES}
    assert rebuilt == kept and all(kept.values())
    assert kept["filing_state"][0]["verdict"] in ("early", "on_time", "late", "no_due_date")


_STATE_TABLES = ("filing_state", "alert_state", "document_state")


async def _filing_row(conn: asyncpg.Connection, filing_id: str) -> dict:
    row = await conn.fetchrow("SELECT * FROM filing_state WHERE filing_id = $1", filing_id)
    assert row is not None
    return dict(row)


async def _state_in_one_batch(settings: Settings, records: list[dict]) -> dict:
    """The state of F-1 folded by a fresh sink on a fresh database from one batch."""
    from ioc.db.migrate import ensure_database, migrate, with_database

    url = with_database(settings.database_url, f"{settings.topic_prefix}_once")
    await ensure_database(url)
    await migrate(url)
    other = await asyncpg.connect(url)
    try:
        await DatabaseSink(other).write(_batch(*(("filings", r) for r in records)))
        return await _filing_row(other, "F-1")
    finally:
        await other.close()


_LIFE = [
    filing("f1", "F-1", "received", 1),
    filing("f2", "F-1", "in_process", 5),
    filing("f3", "F-1", "supplement_requested", 9),
    filing("f4", "F-1", "supplemented", 20),
    filing("f5", "F-1", "resolved", 40),
]


async def test_an_entity_is_refolded_from_the_history_cache_when_it_still_matches(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    sink = DatabaseSink(conn)
    for record in _LIFE:
        await sink.write(_batch(("filings", record)))
    # the first event opened the filing; the next four each found its history cached
    assert (sink.histories.hits, sink.histories.misses) == (4, 0)
    assert await _filing_row(conn, "F-1") == await _state_in_one_batch(settings, _LIFE)


async def test_a_history_another_writer_extended_is_read_back_not_taken_from_the_cache(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    # Two processors taking turns on one entity, as around a rebalance: each one's
    # cache goes stale when the other stores an event, and must not be folded from.
    other = await asyncpg.connect(settings.database_url)
    try:
        first, second = DatabaseSink(conn), DatabaseSink(other)
        for n, record in enumerate(_LIFE):
            await (first if n % 2 == 0 else second).write(_batch(("filings", record)))
    finally:
        await other.close()
    assert first.histories.misses == 2 and first.histories.hits == 0
    assert await _filing_row(conn, "F-1") == await _state_in_one_batch(settings, _LIFE)


async def test_a_batch_rolled_back_leaves_nothing_in_the_history_cache(
    conn: asyncpg.Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = DatabaseSink(conn)
    await sink.write(_batch(("filings", _LIFE[0])))
    real_refold = sink_module.refold

    async def refold_then_lose_the_connection(*args: Any, **kwargs: Any) -> Any:
        await real_refold(*args, **kwargs)  # folded, written - and never committed
        raise ConnectionError("lost the database before the commit")

    monkeypatch.setattr(sink_module, "refold", refold_then_lose_the_connection)
    with pytest.raises(ConnectionError):
        await sink.write(_batch(("filings", _LIFE[1])))
    monkeypatch.undo()
    cached = sink.histories.history("filings", "F-1")
    assert cached is not None and [e.event_id for e in cached] == ["f1"]
    for record in _LIFE[2:]:
        await sink.write(_batch(("filings", record)))
    assert await _filing_row(conn, "F-1") == await _state_in_one_batch(
        settings, [_LIFE[0], *_LIFE[2:]]
    )
