"""The processor loop: poll a micro-batch, write it in one transaction, then commit offsets.

Order of operations per batch, and why:
1. decode; records that do not decode are set aside for the dead-letter topic;
2. `DatabaseSink.write` - one transaction; retried until it succeeds when the
   database is away or refuses for a reason of its own (moving on without it would
   let a later commit skip these records). Records the database can never accept
   come back refused, and the rest of the batch is stored without them;
3. dead-letter what did not decode and what the database refused (awaited, so they
   are safe before their offsets are committed; redelivery may send one twice);
4. run the post-commit consumers: first the announcement of what changed on the live
   topic (best effort: the wall screen resyncs from a snapshot on reconnect; queued,
   its acknowledgement is not waited for), then any a later stage registers
   (`after_commit`); a consumer that fails is logged and does not hold the batch up;
5. commit the offsets of this batch, for partitions we still own.
What the transaction itself writes is the sink's list of writers (`streams.sink.WRITERS`
plus any passed in): the processor's extension points are these two lists and the
clock tick that runs beside the consume loop.
A rebalance waits for the batch in flight (`_BatchGuard`) so that partitions
change hands only between batches.

While a batch is written, the next one is polled and decoded (the processor's own
work overlapping the database's); it is written, and its offsets committed, only after
this one. Records it holds of partitions revoked meanwhile are dropped: their new owner
replays them from the committed offset.

Stopping (SIGTERM or SIGINT) drains first: the processor keeps storing what the
broker held for its partitions when asked to stop, for at most
`IOC_PROCESSOR_DRAIN_S`, with a progress line, because the embedded broker keeps
data in memory only. A second signal stops after the batch in flight.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import ValidationError

from ioc.clock import Clock, clock_for, working_calendar
from ioc.config import Settings
from ioc.db import DATABASE_UNAVAILABLE, describe, location
from ioc.db.dead_letters import SeenLetter, read_letter
from ioc.db.state import tick
from ioc.domains import DOMAINS
from ioc.events import decode_event, field_errors
from ioc.kafka import dead_letter_value, end_offsets, make_consumer, make_producer
from ioc.waiting import StoppedWaiting, reach, started
from streams import metrics
from streams.batch import Incoming
from streams.progress import Progress, ProgressReporter
from streams.sink import WRITERS, DatabaseSink, Writer, WriteResult

log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.5, 1, 2, 5, 10)
# The processor allocates a few hundred short-lived objects per event (decoded models,
# payload dicts, rows), nearly all gone when the batch is, while it keeps a large,
# long-lived history cache. At CPython's default thresholds (700, 10, 10) the collector
# runs every few events, and its older-generation passes walk that cache over and over:
# about a seventh of the processor's CPU in `ioc bench`. So objects that exist at start
# are frozen out of collection, and the young generation is collected every 100,000
# allocations (a fraction of a batch); reference cycles are still collected, in fewer,
# larger steps.
GC_THRESHOLDS = (100_000, 20, 100)
_DRAIN_REPORT_S = 2.0
_ASK_BROKER_S = 3.0

# Where a batch's time goes (`ioc bench` reads these); perf_counter around each phase.
_PHASE = {
    phase: metrics.PHASE_SECONDS.labels(phase=phase)
    for phase in ("idle", "decode", "write", "dead_letter", "announce", "commit")
}

Polled = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]


class _Stopped(Exception):
    """Asked to stop while a batch could not be written: leave it for redelivery."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source: str
    reason: str  # invalid_event | database_refused
    errors: list[str]
    raw: bytes
    key: bytes | None
    where: str  # topic/partition@offset, for the log


@dataclass(slots=True)
class _Batch:
    """A polled micro-batch, decoded: per partition its records and its dead letters."""

    parts: dict[TopicPartition, tuple[list[Incoming], list[DeadLetter]]] = field(
        default_factory=dict
    )
    # Records read from the dead-letter topic, to be counted by source and reason.
    letters: dict[TopicPartition, list[SeenLetter]] = field(default_factory=dict)
    last_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    decode_s: float = 0.0

    def add(
        self, tp: TopicPartition, part: tuple[list[Incoming], list[DeadLetter]], last: int
    ) -> None:
        self.parts[tp] = part
        self.last_offsets[tp] = last

    def add_letters(self, tp: TopicPartition, letters: list[SeenLetter], last: int) -> None:
        self.letters[tp] = letters
        self.last_offsets[tp] = last

    @property
    def empty(self) -> bool:
        return not self.parts and not self.letters

    def owned(self, assignment: Set[TopicPartition]) -> _Batch:
        if all(tp in assignment for tp in self.last_offsets):
            return self
        return _Batch(
            {tp: part for tp, part in self.parts.items() if tp in assignment},
            {tp: seen for tp, seen in self.letters.items() if tp in assignment},
            {tp: last for tp, last in self.last_offsets.items() if tp in assignment},
            self.decode_s,
        )


class _BatchGuard(ConsumerRebalanceListener):
    """Makes partition revocation wait for the batch in flight to finish and commit."""

    def __init__(self, on_assigned: Callable[[], None]) -> None:
        self.lock = asyncio.Lock()
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.lock:
            log.info(
                "partitions revoked: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in revoked)
            )

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._on_assigned()
        log.info("partitions assigned: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))


AfterCommit = Callable[[WriteResult], Awaitable[None]]


class Processor:
    def __init__(
        self,
        settings: Settings,
        writers: Sequence[Writer] = (),
        after_commit: Sequence[AfterCommit] = (),
        clock: Callable[[], Clock] | None = None,
    ) -> None:
        """`writers` run inside each batch's transaction after the standard ones;
        `after_commit` consumers hear of each written batch after the announcement.
        `clock` gives the time now with the calendar and thresholds each batch and tick
        are judged by: by default the system clock on the working calendar of the
        settings (`IOC_WORKING_TIME_FILE`), so "at risk" is due within one working day
        of working time and a filing's resolution is counted in working time; tests
        pass a hand-set one."""
        self.settings = settings
        self._writers = (*WRITERS, *writers)
        self._after_commit: tuple[AfterCommit, ...] = (self._announce, *after_commit)
        self._topic_source = {topic: source for source, topic in settings.source_topics.items()}
        # What we know of committed offsets is stale once partitions change hands.
        self._committed: dict[TopicPartition, int] = {}
        self._guard = _BatchGuard(on_assigned=self._committed.clear)
        self._stopping = asyncio.Event()
        self._stop_requests = 0
        self._drain_deadline: float | None = None
        self._fault_armed = bool(settings.fault_pause_at)
        self.progress = Progress()
        self._clock = clock or clock_for(settings, working_calendar(settings))
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.conn: asyncpg.Connection | None = None
        self.sink: DatabaseSink | None = None

    async def _fault(self, point: str) -> None:
        """Testing hook: stop dead at `point` once, so a test can SIGKILL us right there."""
        if self._fault_armed and point == self.settings.fault_pause_at:
            self._fault_armed = False
            print(f"FAULT-PAUSE {point}", file=sys.stderr, flush=True)
            await asyncio.Event().wait()

    def stop(self) -> None:
        """First call: drain, then stop. A second call: stop after the batch in flight."""
        self._stop_requests += 1
        if self._stop_requests > 1:
            log.info("asked again to stop; stopping after the batch in flight")
            self._drain_deadline = time.monotonic()
        self._stopping.set()

    async def run(self) -> None:
        try:
            await self._start()
        except StoppedWaiting as stopped:
            log.info("%s; nothing was consumed", stopped)
            await self._close_clients()
            return
        s = self.settings
        reporter = ProgressReporter(s, self.progress, self._lag)
        reporting = asyncio.create_task(reporter.run(), name="progress-reporter")
        ticking = asyncio.create_task(self._tick_forever(), name="clock-tick")
        log.info(
            "processor %sstarted: group %s, topics %s",
            f"{s.processor_name} " if s.processor_name else "",
            s.processor_group,
            list(s.source_topics.values()),
        )
        try:
            await self._consume()
        except _Stopped:
            log.info("stopped while retrying a batch; its offsets stay uncommitted")
        finally:
            ticking.cancel()
            reporting.cancel()
            await reporter.close()
            await self._close_clients()
            log.info("processor stopped")

    async def _start(self) -> None:
        """Connect to the database and the broker, waiting for each as long as it takes
        (`ioc.waiting`): a processor that exited instead would be restarted into the
        same outage until `ioc up` gave up on it."""
        s = self.settings
        await reach(
            self._connect, f"the database at {location(s.database_url)}", "IOC_DATABASE_URL",
            stopping=self._stopping,
        )  # fmt: skip
        # The client id names this processor in the broker's logs and group listings.
        client_id = f"ioc-{s.processor_name or 'process'}"
        kafka = f"Kafka at {s.kafka_bootstrap}"
        self.producer = await reach(
            started(lambda: make_producer(s, client_id=client_id)), kafka,
            "IOC_KAFKA_BOOTSTRAP", stopping=self._stopping,
        )  # fmt: skip
        self.consumer = await reach(
            started(lambda: self._subscribed(client_id)), kafka, "IOC_KAFKA_BOOTSTRAP",
            stopping=self._stopping,
        )  # fmt: skip

    def _subscribed(self, client_id: str) -> AIOKafkaConsumer:
        s = self.settings
        consumer = make_consumer(s, group_id=s.processor_group, client_id=client_id)
        # The dead-letter topic too: its records are counted by source and reason.
        topics = [*s.source_topics.values(), s.deadletter_topic]
        consumer.subscribe(topics, listener=self._guard)
        return consumer

    async def _close_clients(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()
        if self.conn is not None:
            await self.conn.close()

    async def _consume(self) -> None:
        assert self.consumer is not None
        targets: dict[TopicPartition, int] | None = None
        next_report = 0.0
        idle = False  # the last poll returned nothing
        ahead: asyncio.Task[_Batch] | None = None  # the next batch, polled during a write
        try:
            while True:
                if self._stopping.is_set():
                    if targets is None:
                        targets = await self._begin_drain()
                    left = await self._left(targets)
                    if left == 0 and idle:
                        log.info("drained: everything the broker held for us is stored")
                        return
                    now = time.monotonic()
                    if self._drain_deadline is None or now >= self._drain_deadline:
                        log.warning(
                            "stopping with %d records not stored; they stay on the broker, "
                            "uncommitted, for the next processor", left,
                        )  # fmt: skip
                        return
                    if now >= next_report and left:
                        log.info("draining: %d records left to store", left)
                        next_report = now + _DRAIN_REPORT_S
                waited = time.perf_counter()
                batch = await (ahead if ahead is not None else self._next_batch())
                ahead = None
                _PHASE["idle"].inc(time.perf_counter() - waited)
                idle = batch.empty
                if idle:
                    continue
                async with self._guard.lock:
                    # Fetched before a rebalance, records of partitions now someone else's
                    # are theirs to store: they replay them from the committed offset.
                    batch = batch.owned(self.consumer.assignment())
                    # Poll and decode the next batch while this one waits on the database.
                    ahead = asyncio.create_task(self._next_batch(), name="next-batch")
                    await self._handle(batch)
        finally:
            if ahead is not None:
                # Polled but not stored: uncommitted, so the broker hands it out again.
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)

    async def _next_batch(self) -> _Batch:
        """Poll a micro-batch and decode it a partition at a time, giving way in between
        so that a batch being written meanwhile is not held up."""
        assert self.consumer is not None
        s = self.settings
        polled = await self.consumer.getmany(
            timeout_ms=s.processor_poll_ms, max_records=s.processor_batch_max
        )
        batch = _Batch()
        for tp, messages in polled.items():
            if messages and tp.topic == s.deadletter_topic:
                seen = [
                    read_letter(tp.topic, tp.partition, m.offset, _timestamp(m), m.value)
                    for m in messages
                ]
                batch.add_letters(tp, seen, messages[-1].offset)
            elif messages:
                started = time.perf_counter()
                batch.add(tp, self._decode({tp: messages}), messages[-1].offset)
                seconds = time.perf_counter() - started
                batch.decode_s += seconds
                _PHASE["decode"].inc(seconds)
                await asyncio.sleep(0)
        return batch

    async def _begin_drain(self) -> dict[TopicPartition, int]:
        """What the broker holds for our partitions now: the drain stores at least that."""
        assert self.consumer is not None
        if self._drain_deadline is None:
            self._drain_deadline = time.monotonic() + self.settings.processor_drain_s
        self.progress.draining = True
        try:
            targets = await asyncio.wait_for(
                end_offsets(self.consumer, list(self.consumer.assignment())), _ASK_BROKER_S
            )
        except (KafkaError, TimeoutError) as error:
            log.warning("cannot see the broker's end offsets (%s); not draining", error)
            return {}
        log.info(
            "stopping: first storing what the broker holds (%d records, at most %.0f s)",
            await self._left(targets),
            self.settings.processor_drain_s,
        )
        return targets

    async def _left(self, targets: Mapping[TopicPartition, int]) -> int:
        """Records not yet committed on the partitions we still own, up to the larger of
        `targets` and what the latest fetches say the broker holds."""
        assert self.consumer is not None
        left = 0
        for tp in self.consumer.assignment():
            end = max(targets.get(tp, 0), self.consumer.highwater(tp) or 0)
            left += max(0, end - await self._committed_offset(tp))
        return left

    async def _committed_offset(self, tp: TopicPartition) -> int:
        assert self.consumer is not None
        if tp not in self._committed:
            committed = await self.consumer.committed(tp)
            if committed is None:
                committed = (await self.consumer.beginning_offsets([tp]))[tp]
            # A batch may have committed while we asked: its offset is the fresher one.
            self._committed.setdefault(tp, committed)
        return self._committed[tp]

    async def _lag(self) -> dict[TopicPartition, int]:
        """Consumer lag per owned partition: end offset minus committed offset.

        The end is the high watermark of the consumer's latest fetch, which its background
        fetcher keeps fresh even while the loop is stuck in a batch; the broker is asked
        only for partitions not fetched yet, with a time limit, so a report never hangs.
        """
        assert self.consumer is not None
        assigned = list(self.consumer.assignment())
        ends = {tp: self.consumer.highwater(tp) for tp in assigned}
        unknown = [tp for tp, end in ends.items() if end is None]
        if unknown:
            listed = await asyncio.wait_for(end_offsets(self.consumer, unknown), _ASK_BROKER_S)
            ends.update(listed)
        lag = {}
        for tp, end in ends.items():
            committed = await asyncio.wait_for(self._committed_offset(tp), _ASK_BROKER_S)
            lag[tp] = max(0, (end or 0) - committed)
        return lag

    async def _handle(self, batch: _Batch) -> None:
        started = time.perf_counter()
        records = [r for records, _ in batch.parts.values() for r in records]
        dead = [d for _, dead in batch.parts.values() for d in dead]
        letters = [letter for seen in batch.letters.values() for letter in seen]
        written_now = await self._write_with_retry(records, letters) if records or letters else None
        result = written_now if records else None
        written = time.perf_counter()
        _PHASE["write"].inc(written - started)
        await self._fault("after_db_commit")
        if result is not None:
            dead += [self._refused_letter(r.record, r.reason) for r in result.refused]
        await self._dead_letter(dead)
        lettered = time.perf_counter()
        _PHASE["dead_letter"].inc(lettered - written)
        if result is not None:
            self._observe(result, batch.decode_s + lettered - started)
            for consumer in self._after_commit:
                try:
                    await consumer(result)
                except Exception:  # one consumer's fault must not stall the pipeline
                    log.exception("post-commit consumer %s failed", _name(consumer))
        announced = time.perf_counter()
        _PHASE["announce"].inc(announced - lettered)
        await self._commit(batch.last_offsets)
        _PHASE["commit"].inc(time.perf_counter() - announced)

    def _decode(self, polled: Polled) -> tuple[list[Incoming], list[DeadLetter]]:
        decoded: list[Incoming] = []
        dead: list[DeadLetter] = []
        for tp, messages in polled.items():
            source = self._topic_source.get(tp.topic, "unknown")
            for msg in messages:
                raw = msg.value or b""
                try:
                    event = decode_event(source, raw)
                except (ValidationError, KeyError) as error:
                    errors = (
                        [str(e) for e in field_errors(error)]
                        if isinstance(error, ValidationError)
                        else [f"no source for topic {tp.topic}"]
                    )
                    dead.append(
                        DeadLetter(source, "invalid_event", errors, raw, msg.key,
                                   f"{msg.topic}/{msg.partition}@{msg.offset}")
                    )  # fmt: skip
                    continue
                decoded.append(
                    Incoming(
                        event=event,
                        ingested_at=_timestamp(msg),
                        topic=tp.topic,
                        partition=tp.partition,
                        offset=msg.offset,
                        raw=raw,
                    )
                )
        return decoded, dead

    @staticmethod
    def _refused_letter(record: Incoming, reason: str) -> DeadLetter:
        return DeadLetter(
            record.event.source, "database_refused", [reason], record.raw,
            record.event.entity_id.encode("utf-8", "replace"),
            f"{record.topic}/{record.partition}@{record.offset}",
        )  # fmt: skip

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        """Put every letter on the dead-letter topic, retrying until the broker takes it."""
        assert self.producer is not None
        for letter in letters:
            log.warning(
                "dead-lettering %s (%s): %s", letter.where, letter.reason, letter.errors[:3]
            )
        attempt = 0
        while letters:
            try:
                futures = [
                    await self.producer.send(
                        self.settings.deadletter_topic, self._letter_value(letter), key=letter.key
                    )
                    for letter in letters
                ]
                await asyncio.gather(*futures)
                break
            except KafkaError as error:
                delay = self._retry_delay(attempt, f"dead-letter topic: {error}")
                attempt += 1
                log.warning("could not dead-letter %d records (%s)", len(letters), error)
                await asyncio.sleep(delay)
        for letter in letters:
            metrics.DEAD_LETTERED.labels(source=letter.source, reason=letter.reason).inc()

    @staticmethod
    def _letter_value(letter: DeadLetter) -> bytes:
        return dead_letter_value(
            stage="processor", source=letter.source, reason=letter.reason,
            errors=letter.errors, raw=letter.raw,
        )  # fmt: skip

    async def _connect(self) -> None:
        self.conn = await asyncpg.connect(self.settings.database_url)
        self.sink = DatabaseSink(
            self.conn, fault=self._fault, clock=self._clock,
            history_cache_events=self.settings.processor_history_cache_events,
            writers=self._writers,
        )  # fmt: skip

    async def _tick_forever(self) -> None:
        """Every IOC_CLOCK_TICK_S, turn what came due (overdue, at risk, unattended) even
        when no event arrives; on its own connection, in its own transaction."""
        conn: asyncpg.Connection | None = None
        while True:
            await asyncio.sleep(self.settings.clock_tick_s)
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(self.settings.database_url)
                await self._tick_once(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("clock tick failed (%s); trying again next tick", describe(error))
                if conn is not None:
                    conn.terminate()
                conn = None

    async def _tick_once(self, conn: asyncpg.Connection) -> None:
        clock = self._clock()
        async with conn.transaction():
            ticked = {source: await tick(conn, source, clock) for source in DOMAINS}
        turned = {source: dict(kinds) for source, kinds in ticked.items() if kinds}
        if not turned:
            return
        log.info("clock tick: %s", turned)
        for source, kinds in turned.items():
            for kind, n in kinds.items():
                metrics.CLOCK_TRANSITIONS.labels(source=source, kind=kind).inc(n)
        assert self.producer is not None
        message = {"type": "clock", "at": clock.now.isoformat(), "transitions": turned}
        try:
            await self.producer.send_and_wait(
                self.settings.live_topic, json.dumps(message).encode()
            )
        except KafkaError as error:
            log.warning("could not announce the clock tick on the live topic: %s", error)

    async def _write_with_retry(
        self, records: list[Incoming], letters: list[SeenLetter]
    ) -> WriteResult:
        attempt = 0
        while True:
            try:
                if self.sink is None:
                    await self._connect()
                assert self.sink is not None
                result = await self.sink.write(records, letters)
                if attempt:
                    log.info("the batch was written after %d retries", attempt)
                return result
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                reason = describe(error)
                delay = self._retry_delay(attempt, reason)
                attempt += 1
                metrics.WRITE_RETRIES.inc()
                log.warning(
                    "database write failed (%s); retrying the same batch in %ss", reason, delay
                )
                # A query error (deadlock, ...) keeps the connection; losing the server not.
                if (
                    self.conn is None
                    or self.conn.is_closed()
                    or isinstance(error, DATABASE_UNAVAILABLE)
                ):
                    await self._drop_connection()
                await asyncio.sleep(delay)

    def _retry_delay(self, attempt: int, reason: str) -> float:
        """Record that we are retrying and why; raise _Stopped if we are out of time."""
        if self._stopping.is_set() and (
            self._drain_deadline is None or time.monotonic() >= self._drain_deadline
        ):
            raise _Stopped
        self.progress.retrying(reason)
        return _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]

    async def _drop_connection(self) -> None:
        """Forget a broken connection; the next attempt opens a new one."""
        conn, self.conn, self.sink = self.conn, None, None
        if conn is not None:
            conn.terminate()

    def _observe(self, result: WriteResult, seconds: float) -> None:
        if self.sink is not None:
            for (source, code), n in self.sink.flags_raised.items():
                metrics.FLAGGED.labels(source=source, flag=code).inc(n)
            self.sink.flags_raised.clear()
        metrics.BATCH_SECONDS.observe(seconds)
        metrics.BATCH_SIZE.observe(result.received)
        for source, n in result.delta.new_by_source.items():
            metrics.EVENTS_STORED.labels(source=source).inc(n)
        metrics.DUPLICATES.inc(result.duplicates)

    async def _announce(self, result: WriteResult) -> None:
        assert self.producer is not None
        # What changed, not the catalogue: the API adds the KPI values it relays.
        message = {
            "type": "delta",
            "new_events": dict(result.delta.new_by_source),
            "duplicates": result.duplicates,
            "refused": len(result.refused),
            "touched": {source: len(ids) for source, ids in result.delta.touched.items()},
        }
        # Not waiting for the broker's acknowledgement: best effort, and the next batch
        # need not wait on it. The producer keeps the announcements in order.
        try:
            delivered = await self.producer.send(
                self.settings.live_topic, json.dumps(message).encode()
            )
        except KafkaError as error:
            log.warning("could not announce batch on the live topic: %s", error)
            return
        delivered.add_done_callback(_log_lost_announcement)

    async def _commit(self, last_offsets: Mapping[TopicPartition, int]) -> None:
        assert self.consumer is not None
        owned = self.consumer.assignment()
        offsets = {tp: last + 1 for tp, last in last_offsets.items() if tp in owned}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except CommitFailedError as error:
            # The group moved on; whoever owns these partitions now replays them and
            # the unique event id makes that replay harmless.
            log.warning(
                "offset commit refused after rebalance (%s); the batch will be replayed", error
            )
            for tp in offsets:
                self._committed.pop(tp, None)
            return
        self._committed.update(offsets)
        self.progress.committed()


def _timestamp(msg: ConsumerRecord[bytes, bytes]) -> datetime:
    """When the broker says a record was written; now, if it says nothing usable."""
    try:
        return datetime.fromtimestamp(msg.timestamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.now(UTC)


def _name(consumer: object) -> str:
    return str(getattr(consumer, "__qualname__", consumer))


def _log_lost_announcement(delivered: asyncio.Future[object]) -> None:
    if not delivered.cancelled() and delivered.exception() is not None:
        log.warning("could not announce batch on the live topic: %s", delivered.exception())


async def run_processor(settings: Settings) -> None:
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    processor = Processor(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, processor.stop)
    metrics.serve(settings.processor_metrics_port)
    await processor.run()
