"""Put validated events on their source topic and refused records on the dead-letter topic.

Shared by every ingestor (HTTP receiver, syslog, pollers, replay): one place that
decides the key (the entity id, so one entity's events stay in order), the
timestamp (ingest time, which the processor stores as `ingested_at`) and waits for
the broker's acknowledgement before anything counts as accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from ioc.config import Settings
from ioc.events import Event
from ioc.kafka import dead_letter_value


@dataclass(frozen=True, slots=True)
class Rejected:
    source: str
    errors: list[str]
    raw: str
    reason: str = "invalid_record"


class Publisher:
    def __init__(self, producer: AIOKafkaProducer, settings: Settings) -> None:
        self._producer = producer
        self._settings = settings

    async def publish(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> None:
        """Send everything and wait for every acknowledgement; raises KafkaError on failure."""
        topics = self._settings.source_topics
        futures = [
            await self._producer.send(
                topics[event.source],
                event.model_dump_json().encode(),
                key=event.entity_id.encode(),
            )
            for event in events
        ]
        futures += [
            await self._producer.send(
                self._settings.deadletter_topic,
                dead_letter_value(
                    stage="ingest", source=r.source, reason=r.reason, errors=r.errors, raw=r.raw
                ),
            )
            for r in rejected
        ]
        if futures:
            await asyncio.gather(*futures)
