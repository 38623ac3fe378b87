"""Kafka clients and topics, configured once for every process.

Topics are created with explicit settings because the embedded broker reports only
the settings a topic was created with. Producers use acks=all and no idempotence
(the embedded broker lacks InitProducerId); duplicates that a retry may cause are
removed by the processor's unique event id.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ioc.config import Settings

log = logging.getLogger(__name__)

_WEEK_MS = str(7 * 24 * 3600 * 1000)
_DAY_MS = str(24 * 3600 * 1000)


def topic_specs(settings: Settings) -> list[NewTopic]:
    """Every topic IOC uses, with its settings. Source topics are keyed by entity id."""
    base = {"cleanup.policy": "delete"}
    specs = [
        NewTopic(
            name, settings.topic_partitions, 1, topic_configs={**base, "retention.ms": _WEEK_MS}
        )
        for name in settings.source_topics.values()
    ]
    specs.append(
        NewTopic(settings.deadletter_topic, 1, 1, topic_configs={**base, "retention.ms": _WEEK_MS})
    )
    # One partition: the live feed is a single ordered stream of KPI deltas.
    specs.append(
        NewTopic(settings.live_topic, 1, 1, topic_configs={**base, "retention.ms": _DAY_MS})
    )
    return specs


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; returns the names created now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created them first
        return [spec.name for spec in missing]
    finally:
        await admin.close()


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "enable_idempotence": False,
        "compression_type": "gzip",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 15000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(settings: Settings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": max(500, settings.kafka_session_timeout_ms // 4),
        "max_poll_records": settings.processor_batch_max,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


def dead_letter_value(
    *, stage: str, source: str, reason: str, errors: list[str], raw: bytes | str | Any
) -> bytes:
    """The dead-letter record: the raw input beside why it was refused, for later repair."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    return json.dumps(
        {"stage": stage, "source": source, "reason": reason, "errors": errors, "raw": raw},
        ensure_ascii=False,
        default=str,
    ).encode()
