"""Exact under failure, against the real broker and database: realistic simulator
lifecycles go through Kafka into `ioc process`, which is SIGKILLed again and again,
shares its group with a second processor that joins and is killed, loses its database
for 30 s, or is made to read the whole topic again - and every state, rollup, current
total and count table ends equal to a clean run's: the same events fed in order into a
fresh database through `DatabaseSink` directly.

The simulated events start in January 2025, so every deadline (a filing's due date, a
document's, an alert's acknowledgement window) has long passed when either run writes
its rows: the clock-dependent columns (overdue, at_risk, unattended) are decided the
same way in both and are compared like the rest.

Sizes: `IOC_EXACT_EVENTS` events (default 20,000: the file takes about 3 minutes on
two cores) and `IOC_EXACT_KILLS` SIGKILLs in the crash scenario (default 20). The
issue's figure, 100,000 events, takes about 4 min 20 s there; run it by hand with
`IOC_EXACT_EVENTS=100000 pytest --timeout 1800 tests/integration/test_exact_under_failure.py`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from ingestors.publisher import Publisher
from ingestors.simulator import generate
from ioc.clock import Clock
from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.embedded.postgres import EmbeddedPostgres
from ioc.embedded.process import free_port
from ioc.events import Event, validate_event
from ioc.kafka import ensure_topics, make_producer
from ioc.working_time import WorkingCalendar
from streams.batch import Incoming
from streams.sink import DatabaseSink
from tests.probes import committed_total, event_totals, state_tables, table_differences
from tests.roles import Role, async_wait_until, start_role, wait_until

pytestmark = pytest.mark.integration

COUNT = int(os.environ.get("IOC_EXACT_EVENTS", "20000"))
KILLS = int(os.environ.get("IOC_EXACT_KILLS", "20"))
SEED = 2026
# Long enough ago that every deadline of every simulated entity has passed.
START = datetime.fromisoformat("2025-01-06T08:00:00+07:00")
STAMP = datetime(2025, 1, 1, tzinfo=UTC)  # ingested_at of the reference run (not compared)
OUTAGE_S = 30.0
_CALENDAR = WorkingCalendar.load()  # what the processors here count working time in
# Generous limits for a 2-core machine; each wait returns as soon as its condition holds.
RUN_S = max(120.0, COUNT / 100)

# A SIGKILLed member stays in the group until its session times out, and its successor
# waits for that: a short session keeps twenty restarts within the time budget.
_QUICK_REJOIN = {"IOC_KAFKA_SESSION_TIMEOUT_MS": "1500"}

Tables = dict[str, list[tuple[Any, ...]]]
_cache: dict[str, Any] = {}


def _events() -> list[Event]:
    if "events" not in _cache:
        events = []
        for record in generate(SEED, COUNT, START):
            event = validate_event(record["source"], record)
            assert isinstance(event, Event), event
            events.append(event)
        _cache["events"] = events
    cached: list[Event] = _cache["events"]
    return cached


async def _reference(server_url: str) -> Tables:
    """The clean run: every event once, in order, straight into a fresh database."""
    if "reference" not in _cache:
        url = with_database(server_url, f"exact_reference_{uuid.uuid4().hex[:8]}")
        await ensure_database(url)
        await migrate(url)
        conn = await asyncpg.connect(url)
        try:
            # Judged and counted in the shipped working calendar, as `ioc process` does.
            sink = DatabaseSink(conn, clock=lambda: Clock(datetime.now(UTC), _CALENDAR))
            events = _events()
            for start in range(0, len(events), 2000):
                await sink.write(
                    [
                        Incoming(event, STAMP, f"reference.{event.source}", 0, offset)
                        for offset, event in enumerate(events[start : start + 2000], start)
                    ]
                )
        finally:
            await conn.close()
        reference = await state_tables(url)
        assert all(reference.values()), "every table has rows to compare"
        assert sum(n for _, n in reference["event_totals"]) == COUNT
        _cache["reference"] = reference
    tables: Tables = _cache["reference"]
    return tables


async def _publish(settings: Settings, events: Sequence[Event]) -> None:
    """Onto the source topics exactly as ingest does: keyed by entity id, acks=all."""
    producer = make_producer(settings)
    await producer.start()
    try:
        publisher = Publisher(producer, settings)
        for start in range(0, len(events), 5000):
            await publisher.publish(events[start : start + 5000])
    finally:
        await producer.stop()


async def _stored(settings: Settings) -> int:
    return sum((await event_totals(settings.database_url)).values())


async def _wait_stored(
    settings: Settings, at_least: int, *roles: Role, interval: float = 0.2
) -> int:
    """Wait until at least `at_least` events are stored (never more than were sent)."""

    async def enough() -> int | None:
        stored = await _stored(settings)
        assert stored <= COUNT, f"counted twice: {stored} > {COUNT}"
        return stored if stored >= at_least else None

    deadline = time.monotonic() + RUN_S
    while (stored := await enough()) is None:
        for role in roles:
            assert role.process.poll() is None, f"{role.name} exited:\n{role.log()[-3000:]}"
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {r.name}:\n{r.log()[-3000:]}" for r in roles)
            raise AssertionError(f"{at_least} events not stored in {RUN_S}s\n{logs}")
        await asyncio.sleep(interval)
    return stored


async def _assert_exact(settings: Settings, reference: Tables) -> Tables:
    tables = await state_tables(settings.database_url)
    differences = table_differences(tables, reference)
    assert not differences, "differs from the clean run:\n" + "\n".join(differences)
    return tables


def _kill(role: Role) -> None:
    role.process.send_signal(signal.SIGKILL)
    role.process.wait(10)


def _processor(settings: Settings, tmp_path: Path, **env: str) -> Role:
    return start_role(settings, "process", tmp_path, **env)


def _assigned(role: Role) -> bool:
    """The processor holds at least one partition (its last assignment is not empty)."""
    lines = [line for line in role.log().splitlines() if "partitions assigned:" in line]
    return bool(lines) and not lines[-1].rstrip().endswith("[]")


async def test_sigkilled_again_and_again_ends_exact(
    settings: Settings, stack: tuple[str, str], tmp_path: Path
) -> None:
    """(a) SIGKILL the processor at random points, KILLS times, during one run. The
    events arrive in KILLS + 1 parts, one before each life of the processor (so a part
    waits on the broker while no processor runs); each life is killed once a random
    number of the events it can see are stored - in the middle of a batch's transaction,
    between its commit and the offset commit, or polling for more."""
    reference = await _reference(stack[1])
    events = _events()
    rng = random.Random(SEED)
    cuts = [len(events) * i // (KILLS + 1) for i in range(KILLS + 2)]
    started = time.monotonic()
    roles: list[Role] = []
    mid_run = 0
    try:
        for n in range(KILLS):
            await _publish(settings, events[cuts[n] : cuts[n + 1]])
            # Batches of different sizes, each smaller than a part, move the batch
            # boundaries between lives and leave room to strike between batches.
            part = cuts[n + 1] - cuts[n]
            batch_max = rng.choice(
                [size for size in (50, 100, 300, 1000, 2000) if size <= part // 2]
            )
            role = _processor(
                settings, tmp_path, **_QUICK_REJOIN, IOC_PROCESSOR_BATCH_MAX=str(batch_max)
            )
            roles.append(role)
            before = await _stored(settings)
            target = rng.randint(before + 1, max(before + 1, cuts[n + 1] - 1))
            at_kill = await _wait_stored(settings, target, role, interval=0.02)
            _kill(role)
            after = await _stored(settings)
            mid_run += after < cuts[n + 1]
            print(
                f"kill {n + 1}/{KILLS}: batches of {batch_max}, {before} stored at start, "
                f"target {target}, {at_kill} seen, {after} after the kill, "
                f"{cuts[n + 1]} sent; {time.monotonic() - started:.1f}s"
            )
        await _publish(settings, events[cuts[KILLS] :])
        last = _processor(settings, tmp_path, **_QUICK_REJOIN)
        roles.append(last)
        await _wait_stored(settings, COUNT, last)
        await _assert_exact(settings, reference)
        print(f"{COUNT} events, {KILLS} kills: exact after {time.monotonic() - started:.1f}s")
    finally:
        for role in roles:
            if role.process.poll() is None:
                role.stop()
    # Most kills found work still waiting (the rest struck a processor polling).
    assert mid_run >= KILLS // 2, f"only {mid_run} of {KILLS} kills struck mid-run"


async def test_rebalance_mid_run_ends_exact(
    settings: Settings, stack: tuple[str, str], tmp_path: Path
) -> None:
    """(b) Two processors in one group: a second joins mid-run, later the first is killed."""
    reference = await _reference(stack[1])
    events = _events()
    quarter = len(events) // 4
    first = _processor(settings, tmp_path)
    second: Role | None = None
    try:
        await _publish(settings, events[:quarter])
        await _wait_stored(settings, 1, first)
        second = _processor(settings, tmp_path)
        await _publish(settings, events[quarter : 2 * quarter])

        async def both_hold_partitions() -> bool:  # the group has rebalanced
            assert second is not None
            return _assigned(first) and _assigned(second)

        await async_wait_until(both_hold_partitions, 60, "a rebalance", first, second)
        await _wait_stored(settings, quarter + 1, first, second)
        _kill(first)  # without a goodbye: the group notices after the session timeout
        await _publish(settings, events[2 * quarter :])
        await _wait_stored(settings, COUNT, second)
        await _assert_exact(settings, reference)
    finally:
        for role in (first, second):
            if role is not None and role.process.poll() is None:
                role.stop()


async def test_database_away_for_30_s_ends_exact(stack: tuple[str, str], tmp_path: Path) -> None:
    """(c) The database server stops (fast shutdown, transactions in flight aborted) for
    30 s mid-run and comes back on the same port: the processor retries the same batch."""
    reference = await _reference(stack[1])
    postgres = EmbeddedPostgres(tmp_path / "pg")
    name = f"exact_outage_{uuid.uuid4().hex[:8]}"
    url = with_database(postgres.start(), name)
    settings = Settings(
        kafka_bootstrap=stack[0], database_url=url, topic_prefix=name,
        processor_group=f"{name}-processor", ingest_token="t", data_dir=tmp_path / "data",
    )  # fmt: skip
    await ensure_database(url)
    await migrate(url)
    await ensure_topics(settings)
    processor = _processor(settings, tmp_path)
    try:
        await _publish(settings, _events())
        await _wait_stored(settings, COUNT // 3, processor)
        postgres.stop()
        down_at = time.monotonic()
        wait_until(lambda: "retrying the same batch" in processor.log(), 60, "a retry", processor)
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        postgres.start()
        await _wait_stored(settings, COUNT, processor)
        await _assert_exact(settings, reference)
        # The same batch, retried through the outage, was written once the server was back.
        assert "the batch was written after" in processor.log()
        assert processor.process.poll() is None, "the processor survived the outage"
    finally:
        processor.stop()
        postgres.stop()


async def test_whole_topic_redelivered_changes_nothing(
    settings: Settings, stack: tuple[str, str], tmp_path: Path
) -> None:
    """(d) After a clean run through the broker, a processor in a new consumer group
    (committed offsets: none, so from the beginning) reads every record again."""
    reference = await _reference(stack[1])
    await _publish(settings, _events())
    first = _processor(settings, tmp_path)
    try:
        await _wait_stored(settings, COUNT, first)
    finally:
        first.stop()
    before = await _assert_exact(settings, reference)
    stamps = await _last_stored_at(settings.database_url)

    group = f"{settings.processor_group}-again"
    metrics_port = free_port()
    again = _processor(
        settings, tmp_path, IOC_PROCESSOR_GROUP=group,
        IOC_PROCESSOR_METRICS_PORT=str(metrics_port),
    )  # fmt: skip
    try:

        async def all_read_again() -> bool:
            return await committed_total(settings, group) >= COUNT

        await async_wait_until(all_read_again, RUN_S, "every record read again", again)
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    finally:
        again.stop()
    assert await committed_total(settings, group) == COUNT
    assert await state_tables(settings.database_url) == before
    assert await _last_stored_at(settings.database_url) == stamps, "event_totals was written"
    duplicates = _metric(metrics, "ioc_processor_duplicates_total")
    assert duplicates == COUNT, f"{duplicates} of {COUNT} recognised as already stored"
    assert _metric(metrics, "ioc_processor_events_stored_total") == 0


async def _last_stored_at(database_url: str) -> dict[str, datetime]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT source, last_stored_at FROM event_totals")
    finally:
        await conn.close()
    return {row["source"]: row["last_stored_at"] for row in rows}


def _metric(text: str, name: str) -> float:
    """Sum of a metric's samples (over its labels) in Prometheus text format."""
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
        and (len(line) == len(name) or line[len(name)] in " {")
    )  # fmt: skip
