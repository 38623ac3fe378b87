"""Fan-out of the live topic to websocket clients.

One Kafka consumer per API process reads the live topic from its end (no consumer
group: every API instance sees every delta) and hands each message to every
client's bounded queue. A client too slow to keep up is disconnected rather than
allowed to grow memory or delay the others; it reconnects and gets a fresh
snapshot (see the websockets "broadcast" notes).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from prometheus_client import Counter, Gauge

from ioc.config import Settings
from ioc.kafka import make_consumer

log = logging.getLogger(__name__)

CLIENT_QUEUE = 256

LIVE_CLIENTS = Gauge("ioc_live_clients", "Websocket clients of /ws/live")
SLOW_CLIENTS = Counter(
    "ioc_live_slow_clients_total", "Live clients disconnected for falling behind"
)


class Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(CLIENT_QUEUE)
        self.overflowed = asyncio.Event()


Snapshot = Callable[[], Awaitable[dict[str, Any]]]


class LiveHub:
    """Relays the live topic to websocket clients. The processor announces what a batch
    or a clock tick changed; the hub adds the KPI values read now (`snapshot`), so the
    processor never reads KPIs inside its write transaction and every message a client
    gets carries full values it can simply keep."""

    def __init__(self, settings: Settings, snapshot: Snapshot | None = None) -> None:
        self._settings = settings
        self._snapshot = snapshot
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        LIVE_CLIENTS.inc()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.discard(subscriber)
            LIVE_CLIENTS.dec()

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    def publish(self, message: dict[str, Any]) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(message)
            except asyncio.QueueFull:
                subscriber.overflowed.set()
                SLOW_CLIENTS.inc()
                self.unsubscribe(subscriber)

    async def _add_kpis(self, message: dict[str, Any]) -> None:
        if self._snapshot is None or not self._subscribers:
            return
        try:
            message["kpis"] = await self._snapshot()
        except Exception as error:  # the database is away: relay what changed without them
            log.warning("could not read the KPIs for a live message: %s", error)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        """Consume the live topic forever, reconnecting after broker trouble."""
        while True:
            consumer = make_consumer(self._settings, group_id=None, auto_offset_reset="latest")
            try:
                await consumer.start()
                tp = TopicPartition(self._settings.live_topic, 0)
                consumer.assign([tp])
                await consumer.seek_to_end(tp)
                await consumer.position(tp)  # resolve the end offset now, not on first read
                log.info("live feed reading %s", self._settings.live_topic)
                async for msg in consumer:
                    try:
                        message = json.loads(msg.value)
                    except (ValueError, TypeError):
                        log.warning("ignoring a malformed live message at offset %d", msg.offset)
                        continue
                    if isinstance(message, dict) and message.get("type") in ("delta", "clock"):
                        await self._add_kpis(message)
                    self.publish(message)
            except KafkaError as error:
                log.warning("live feed lost the broker (%s); retrying in 2s", error)
                await asyncio.sleep(2)
            finally:
                await consumer.stop()
