"""Kafka clients and topics, configured once for every process.

Topics are created with explicit settings because the embedded broker reports only
the settings a topic was created with. Producers use acks=all and no idempotence
(the embedded broker lacks InitProducerId); duplicates that a retry may cause are
removed by the processor's unique event id.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import TopicPartition

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


# What a dead letter keeps of its input: enough to repair or replay most records, and
# always under Kafka's default 1 MiB request size, so dead-lettering cannot itself fail
# on size (a record that is too large would be lost, not kept).
DEAD_LETTER_RAW_MAX_BYTES = 256 * 1024
DEAD_LETTER_MAX_ERRORS = 100
DEAD_LETTER_MAX_ERROR_CHARS = 1000
_DEAD_LETTER_MAX_VALUE = 900 * 1024


def dead_letter_value(
    *,
    stage: str,
    source: str,
    reason: str,
    errors: list[str],
    raw: bytes | str | Any,
    raw_encoding: Literal["text", "hex"] = "text",
) -> bytes:
    """The dead-letter record: the raw input beside why it was refused, for later repair.

    `raw` is kept as text (bytes decoded as UTF-8, invalid bytes replaced) or, with
    `raw_encoding="hex"`, as the hex of the bytes (an unreadable body, e.g. bad gzip).
    At most DEAD_LETTER_RAW_MAX_BYTES of it are kept; `raw_bytes` and `raw_sha256` are
    always those of the whole input, and `raw_truncated` says whether some was cut.
    """
    if raw_encoding == "hex":
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "backslashreplace")
    elif isinstance(raw, bytes):
        data = raw.decode("utf-8", errors="replace").encode()
    else:
        data = str(raw).encode("utf-8", "backslashreplace")  # a lone surrogate is no crash
    kept_errors = [e[:DEAD_LETTER_MAX_ERROR_CHARS] for e in errors[:DEAD_LETTER_MAX_ERRORS]]
    if len(errors) > DEAD_LETTER_MAX_ERRORS:
        kept_errors.append(f"... and {len(errors) - DEAD_LETTER_MAX_ERRORS} more errors")
    letter = {
        "stage": stage,
        "source": source,
        "reason": reason,
        "errors": kept_errors,
        "raw": "",
        "raw_encoding": raw_encoding,
        "raw_bytes": len(data),
        "raw_sha256": hashlib.sha256(data).hexdigest(),
        "raw_truncated": False,
    }
    limit = DEAD_LETTER_RAW_MAX_BYTES
    while True:
        kept = data[:limit]
        letter["raw"] = kept.hex() if raw_encoding == "hex" else kept.decode("utf-8", "ignore")
        letter["raw_truncated"] = len(kept) < len(data)
        value = json.dumps(letter, ensure_ascii=False).encode("utf-8", "backslashreplace")
        # JSON escapes can make text up to six times longer (control characters): cut more.
        if len(value) <= _DEAD_LETTER_MAX_VALUE or limit == 0:
            return value
        limit //= 2


async def end_offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition (its high watermark).

    Asks the broker (ListOffsets) and takes the larger of that and the high watermark
    the consumer's last fetch reported: the embedded broker answers ListOffsets with
    the base offset of the last record *batch* plus one, short of the true end when
    that batch holds several records (ingest sends one batch per partition), while its
    fetch responses carry the right high watermark.
    """
    listed = await consumer.end_offsets(partitions) if partitions else {}
    return {tp: max(listed.get(tp, 0), consumer.highwater(tp) or 0) for tp in partitions}
