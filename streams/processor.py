"""The processor loop: poll a micro-batch, write it in one transaction, then commit offsets.

Order of operations per batch, and why:
1. decode; records that do not decode go to the dead-letter topic (awaited, so
   they are safe before their offsets can be committed);
2. `DatabaseSink.write` - one transaction; retried until it succeeds, because
   moving on without it would let a later commit skip these records;
3. announce the new KPIs on the live topic (best effort: the wall screen resyncs
   from a snapshot on reconnect);
4. commit the offsets of this batch, for partitions we still own.
A rebalance waits for the batch in flight (`_BatchGuard`) so that partitions
change hands only between batches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import ValidationError

from ioc.config import Settings
from ioc.db import DATABASE_UNAVAILABLE
from ioc.events import decode_event, field_errors
from ioc.kafka import dead_letter_value, make_consumer, make_producer
from streams import metrics
from streams.batch import Incoming
from streams.sink import DatabaseSink, WriteResult

log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.5, 1, 2, 5, 10)


class _Stopped(Exception):
    """Asked to stop while a batch could not be written: leave it for redelivery."""


class _BatchGuard(ConsumerRebalanceListener):
    """Makes partition revocation wait for the batch in flight to finish and commit."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.lock:
            log.info(
                "partitions revoked: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in revoked)
            )

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))


class Processor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._topic_source = {topic: source for source, topic in settings.source_topics.items()}
        self._guard = _BatchGuard()
        self._stopping = asyncio.Event()
        self._fault_armed = bool(settings.fault_pause_at)
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
        self._stopping.set()

    async def run(self) -> None:
        s = self.settings
        await self._connect()
        self.producer = make_producer(s)
        await self.producer.start()
        self.consumer = make_consumer(s, group_id=s.processor_group)
        self.consumer.subscribe(list(s.source_topics.values()), listener=self._guard)
        await self.consumer.start()
        log.info(
            "processor started: group %s, topics %s",
            s.processor_group,
            list(s.source_topics.values()),
        )
        try:
            while not self._stopping.is_set():
                polled = await self.consumer.getmany(
                    timeout_ms=s.processor_poll_ms, max_records=s.processor_batch_max
                )
                if not polled:
                    continue
                async with self._guard.lock:
                    await self._handle(polled)
        except _Stopped:
            log.info("stopped while retrying a batch; its offsets stay uncommitted")
        finally:
            await self.consumer.stop()
            await self.producer.stop()
            if self.conn is not None:
                await self.conn.close()
            log.info("processor stopped")

    async def _handle(self, polled: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> None:
        started = time.perf_counter()
        records = await self._decode(polled)
        result = await self._write_with_retry(records) if records else None
        await self._fault("after_db_commit")
        if result is not None:
            self._observe(result, time.perf_counter() - started)
            await self._announce(result)
        await self._commit(polled)

    async def _decode(
        self, polled: Mapping[TopicPartition, Sequence[ConsumerRecord]]
    ) -> list[Incoming]:
        decoded: list[Incoming] = []
        for tp, messages in polled.items():
            source = self._topic_source.get(tp.topic, "unknown")
            for msg in messages:
                try:
                    event = decode_event(source, msg.value or b"")
                except (ValidationError, KeyError) as error:
                    errors = (
                        [str(e) for e in field_errors(error)]
                        if isinstance(error, ValidationError)
                        else [f"no source for topic {tp.topic}"]
                    )
                    await self._dead_letter(source, msg, errors)
                    continue
                decoded.append(
                    Incoming(
                        event=event,
                        ingested_at=datetime.fromtimestamp(msg.timestamp / 1000, UTC),
                        topic=tp.topic,
                        partition=tp.partition,
                        offset=msg.offset,
                    )
                )
        return decoded

    async def _dead_letter(self, source: str, msg: ConsumerRecord, errors: list[str]) -> None:
        assert self.producer is not None
        log.warning("dead-lettering %s/%d@%d: %s", msg.topic, msg.partition, msg.offset, errors[:3])
        await self.producer.send_and_wait(
            self.settings.deadletter_topic,
            dead_letter_value(
                stage="processor", source=source, reason="invalid_event", errors=errors,
                raw=msg.value or b"",
            ),
            key=msg.key,
        )  # fmt: skip
        metrics.DEAD_LETTERED.labels(source=source, reason="invalid_event").inc()

    async def _connect(self) -> None:
        self.conn = await asyncpg.connect(self.settings.database_url)
        self.sink = DatabaseSink(self.conn, fault=self._fault)

    async def _write_with_retry(self, records: list[Incoming]) -> WriteResult:
        attempt = 0
        while True:
            try:
                if self.sink is None:
                    await self._connect()
                assert self.sink is not None
                return await self.sink.write(records)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                if self._stopping.is_set():
                    raise _Stopped from error
                delay = _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]
                attempt += 1
                metrics.WRITE_RETRIES.inc()
                log.warning(
                    "database write failed (%s: %s); retrying the same batch in %ss",
                    type(error).__name__, error, delay,
                )  # fmt: skip
                # A query error (deadlock, ...) keeps the connection; losing the server not.
                if (
                    self.conn is None
                    or self.conn.is_closed()
                    or isinstance(error, DATABASE_UNAVAILABLE)
                ):
                    await self._drop_connection()
                await asyncio.sleep(delay)

    async def _drop_connection(self) -> None:
        """Forget a broken connection; the next attempt opens a new one."""
        conn, self.conn, self.sink = self.conn, None, None
        if conn is not None:
            conn.terminate()

    def _observe(self, result: WriteResult, seconds: float) -> None:
        metrics.BATCH_SECONDS.observe(seconds)
        metrics.BATCH_SIZE.observe(result.received)
        for source, n in result.delta.new_by_source.items():
            metrics.EVENTS_STORED.labels(source=source).inc(n)
        metrics.DUPLICATES.inc(result.duplicates)

    async def _announce(self, result: WriteResult) -> None:
        assert self.producer is not None
        message = {
            "type": "delta",
            "new_events": dict(result.delta.new_by_source),
            "duplicates": result.duplicates,
            "kpis": result.kpis,
        }
        try:
            await self.producer.send_and_wait(
                self.settings.live_topic, json.dumps(message).encode()
            )
        except KafkaError as error:
            log.warning("could not announce batch on the live topic: %s", error)

    async def _commit(self, polled: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> None:
        assert self.consumer is not None
        owned = self.consumer.assignment()
        offsets = {tp: msgs[-1].offset + 1 for tp, msgs in polled.items() if msgs and tp in owned}
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


async def run_processor(settings: Settings) -> None:
    processor = Processor(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, processor.stop)
    metrics.serve(settings.processor_metrics_port)
    await processor.run()
