"""`ioc bench`: throughput, latency and memory of the pipeline against a bare ceiling.

Both measurements run in one invocation on a fresh embedded broker and database,
on the same simulated events:
- ceiling: plain aiokafka consume (assigned partitions, no group, no parsing) +
  asyncpg COPY of each fetched batch into a bare table - what the hardware, the
  broker and PostgreSQL allow with no logic at all;
- validated ceiling: the same consume, each record validated as the processor does,
  and each batch COPied into `events` - what a processor process could reach if its
  domain logic (de-duplication, state, rollups, the clock) cost nothing;
- processor only: `ioc process` alone on pre-loaded topics;
- pipeline: the real roles as separate processes (`ioc serve` for HTTP ingest,
  `ioc process`), fed over HTTP: ingest → Kafka → processor → database.
Throughput = events ÷ time from the first send to the last event stored, with the
whole load pushed as fast as ingest takes it (saturation). Latency = per event, the
Kafka timestamp the ingest receiver set → the processor's insert
(`stored_at - ingested_at`), p50 and p99: `latency_*` at a steady rate of a quarter
of the measured throughput (at most 1,000/s) for a few seconds - what an operator
sees in normal running - and `saturated_latency_*` during the saturation phase,
which is mostly queueing.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from ingestors.client import IngestClient
from ingestors.sender import send_records
from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.embedded.broker import EmbeddedBroker
from ioc.embedded.postgres import EmbeddedPostgres
from ioc.embedded.process import free_port, kill_with_parent
from ioc.events import Event, decode_event, validate_event
from ioc.kafka import ensure_topics, make_producer
from ioc.processor_roles import processor_names  # as `ioc up` names them

_START = "2026-01-05T08:00:00+07:00"
STEADY_SECONDS = 8
STEADY_CHUNK = 50  # records per request in the steady phase, like a source system sending often


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _events(seed: int, count: int) -> list[tuple[str, dict[str, Any]]]:
    from ingestors.simulator import generate

    start = datetime.fromisoformat(_START)
    return [(r["source"], r) for r in generate(seed, count, start)]


def _peak_rss_mb(pid: int) -> float:
    """VmHWM: the peak resident set of a process, read before it exits."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def _ceiling_topics(settings: Settings) -> list[str]:
    return [f"{settings.topic_prefix}.ceiling.{s}" for s in ("documents", "filings", "security")]


async def _load_ceiling_topics(settings: Settings, events: list[Event]) -> None:
    """The events on the ceiling's own topics, as ingest writes them (canonical JSON,
    keyed by entity id)."""
    ceiling = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}.ceiling"})
    await ensure_topics(ceiling)
    producer = make_producer(settings)
    await producer.start()
    try:
        futures = [
            await producer.send(
                f"{ceiling.topic_prefix}.{e.source}",
                e.model_dump_json().encode(),
                key=e.entity_id.encode(),
            )
            for e in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
Store = Callable[[Batch], Awaitable[int]]


async def _assigned(
    bootstrap: str, partitions: list[TopicPartition], batch_max: int
) -> AIOKafkaConsumer:
    """A started consumer on `partitions` from their start, no group, polling as the
    processor polls."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch_max,
    )
    await consumer.start()
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    return consumer


async def _store_all(consumer: AIOKafkaConsumer, count: int, batch_max: int, store: Store) -> None:
    """Hand each polled batch to `store` until `count` records are stored."""
    stored = 0
    while stored < count:
        stored += await store(await consumer.getmany(timeout_ms=500, max_records=batch_max))


def _ceiling_partitions(settings: Settings) -> list[TopicPartition]:
    return [
        TopicPartition(t, p)
        for t in _ceiling_topics(settings)
        for p in range(settings.topic_partitions)
    ]


async def measure_ceiling(settings: Settings, events: list[Event]) -> float:
    """Events/s for plain consume + COPY of the same events; the production is not timed."""
    await _load_ceiling_topics(settings, events)
    conn = await asyncpg.connect(settings.database_url)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS ceiling_events "
        "(topic text, part int, off bigint, key bytea, value bytea)"
    )

    async def copy_raw(batch: Batch) -> int:
        rows = [
            (m.topic, m.partition, m.offset, m.key, m.value) for ms in batch.values() for m in ms
        ]
        if rows:
            await conn.copy_records_to_table("ceiling_events", records=rows)
        return len(rows)

    batch_max = settings.processor_batch_max
    consumer = await _assigned(settings.kafka_bootstrap, _ceiling_partitions(settings), batch_max)
    try:
        started = time.perf_counter()
        await _store_all(consumer, len(events), batch_max, copy_raw)
        return len(events) / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await conn.close()


async def measure_validated_ceiling(
    settings: Settings, database: str, count: int, processes: int = 1
) -> float:
    """Events/s for what no processor can skip, and nothing more: the ceiling's consume,
    each record validated as the processor validates it (`decode_event`), and one COPY
    per batch into `events` (with its keys) on a database of its own - no
    de-duplication, no state, no rollups. In `processes` processes, each with its share
    of the ceiling's partitions (as many as the processor-only stage runs, so the two
    have the same cores to share): the most that many processors could store here if
    their domain logic cost nothing. Timed from a common start, once every process has
    connected, to the last one's end."""
    await ensure_database(database)
    await migrate(database)
    spawn = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue[str | None] = spawn.Queue()
    done: multiprocessing.Queue[tuple[int, float] | str] = spawn.Queue()
    go = spawn.Event()
    total = spawn.Value("q", 0)  # stored by all the processes so far
    partitions = [(tp.topic, tp.partition) for tp in _ceiling_partitions(settings)]
    shares = [
        _Share(
            settings.kafka_bootstrap,
            partitions[n::processes],
            settings.processor_batch_max,
            database,
            count,
            total,
            ready,
            go,
            done,
        )
        for n in range(processes)
    ]
    workers = [
        spawn.Process(target=_validated_share, args=(share,), daemon=True) for share in shares
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            problem = await asyncio.to_thread(ready.get, timeout=120)
            if problem is not None:
                raise RuntimeError(f"validated ceiling: {problem}")
        started = time.time()
        go.set()
        ends = []
        for _ in workers:
            result = await asyncio.to_thread(done.get, timeout=600)
            if isinstance(result, str):
                raise RuntimeError(f"validated ceiling: {result}")
            ends.append(result)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    stored = sum(n for n, _ in ends)
    if stored != count:
        raise RuntimeError(f"validated ceiling: stored {stored} of {count} events")
    return count / (max(end for _, end in ends) - started)


@dataclass(frozen=True)
class _Share:
    """What one process of the validated ceiling is given (pickled to it at spawn)."""

    bootstrap: str
    partitions: list[tuple[str, int]]
    batch_max: int
    database: str
    count: int  # what all the processes together store
    total: Any  # a multiprocessing.Value: what they stored so far
    ready: Any  # a multiprocessing.Queue: None once connected, or what went wrong
    go: Any  # a multiprocessing.Event: the common start
    done: Any  # a multiprocessing.Queue: (records stored, wall-clock end), or what went wrong


def _validated_share(share: _Share) -> None:
    """One process of the validated ceiling (spawned): says when it is ready, waits for
    the common start, stores until all the processes together stored `count` (the
    embedded broker's ListOffsets cannot say where a share ends), then reports."""
    try:
        asyncio.run(_validate_share(share))
    except Exception as error:  # reported to the parent, which says so and stops
        share.ready.put(f"{type(error).__name__}: {error}")
        share.done.put(f"{type(error).__name__}: {error}")


async def _validate_share(share: _Share) -> None:
    from streams.sink import EVENT_COLUMNS

    conn = await asyncpg.connect(share.database)
    mine = [TopicPartition(topic, partition) for topic, partition in share.partitions]
    consumer = await _assigned(share.bootstrap, mine, share.batch_max)
    source = {tp.topic: tp.topic.rsplit(".", 1)[1] for tp in mine}

    async def validate_and_copy(batch: Batch) -> int:
        rows = []
        for tp, messages in batch.items():
            for m in messages:
                e = decode_event(source[tp.topic], m.value or b"")
                rows.append((e.source, e.event_id, e.type, e.entity_id, e.agency, e.occurred_at,
                             datetime.fromtimestamp(m.timestamp / 1000, UTC),
                             e.payload.model_dump_json()))  # fmt: skip
        if rows:
            async with conn.transaction():
                await conn.copy_records_to_table("events", columns=EVENT_COLUMNS, records=rows)
            with share.total.get_lock():
                share.total.value += len(rows)
        return len(rows)

    try:
        share.ready.put(None)
        await asyncio.to_thread(share.go.wait)
        stored = 0
        while share.total.value < share.count:
            stored += await validate_and_copy(
                await consumer.getmany(timeout_ms=100, max_records=share.batch_max)
            )
        share.done.put((stored, time.time()))
    finally:
        await consumer.stop()
        await conn.close()


INGEST_CHUNK = 1000  # records per request in the ingest-transport stage
INGEST_IN_FLIGHT = 4  # requests in flight, as `ioc replay` sends


async def measure_bare_producer(settings: Settings, events: list[Event]) -> float:
    """Records/s for a plain aiokafka producer (IOC's producer settings) sending the
    events as ingest would write them, one `send` each, every acknowledgement awaited."""
    bare = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}.bare"})
    await ensure_topics(bare)
    values = [(bare.source_topics[e.source], e.entity_id.encode(), e.model_dump_json().encode())
              for e in events]  # fmt: skip
    producer = make_producer(bare)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=key) for topic, key, value in values]
        await asyncio.gather(*futures)
        return len(events) / (time.perf_counter() - started)
    finally:
        await producer.stop()


def _bodies(records: list[tuple[str, dict[str, Any]]], shape: str) -> list[tuple[str, bytes]]:
    """The records as request bodies of INGEST_CHUNK records, per source, encoded ahead
    of the timed window so that the client's JSON encoding is not what is measured."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for source, record in records:
        by_source.setdefault(source, []).append(record)
    out = []
    for source, items in by_source.items():
        for start in range(0, len(items), INGEST_CHUNK):
            chunk = items[start : start + INGEST_CHUNK]
            if shape == "ndjson":
                body = "\n".join(json.dumps(r, ensure_ascii=False) for r in chunk)
            else:
                body = json.dumps(chunk, ensure_ascii=False)
            out.append((source, body.encode()))
    return out


async def _post_all(
    http: httpx.AsyncClient, bodies: list[tuple[str, bytes]], content_type: str
) -> int:
    """Post every body, INGEST_IN_FLIGHT at a time; returns the records accepted."""
    slots = asyncio.Semaphore(INGEST_IN_FLIGHT)

    async def post(source: str, body: bytes) -> int:
        async with slots:
            response = await http.post(
                f"/ingest/{source}", content=body, headers={"Content-Type": content_type}
            )
        if response.status_code != 200:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
        return int(response.json()["accepted"])

    return sum(await asyncio.gather(*(post(source, body) for source, body in bodies)))


async def measure_ingest_transports(
    settings: Settings, records: list[tuple[str, dict[str, Any]]]
) -> dict[str, float]:
    """Records/s that `ioc ingest` (alone) accepts per transport, the broker's
    acknowledgement included, with INGEST_IN_FLIGHT requests of INGEST_CHUNK records."""
    port = free_port()
    alone = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}.ingest",
            "api_port": port,
            "api_url": f"http://127.0.0.1:{port}",
            "log_level": "WARNING",
        }
    )
    await ensure_topics(alone)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
           **alone.environment()}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ioc", "ingest", env=env, preexec_fn=kill_with_parent()
    )
    content_types = {"ndjson": "application/x-ndjson", "json_array": "application/json"}
    out: dict[str, float] = {}
    try:
        await _wait_ready(alone.api_url)
        async with httpx.AsyncClient(
            base_url=alone.api_url, timeout=120,
            headers={"Authorization": f"Bearer {alone.ingest_token}"},
        ) as http:  # fmt: skip
            for shape, content_type in content_types.items():
                bodies = _bodies(records, shape)
                started = time.perf_counter()
                accepted = await _post_all(http, bodies, content_type)
                out[f"http_{shape}"] = accepted / (time.perf_counter() - started)
                _say(f"ingest over HTTP {shape}: {out[f'http_{shape}']:,.0f} records/s")
    finally:
        await _stop_all([process], 15)
    return out


SYSLOG_CONNECTIONS = 4  # TCP connections sending at once, as HTTP has 4 requests in flight
KERNEL_DROPS = "ioc_syslog_udp_kernel_drops"  # the listener's socket, as the kernel counts


def _syslog_messages(records: list[tuple[str, dict[str, Any]]], count: int) -> list[bytes]:
    """The security records as a relay forwards a JSON record (an RFC 5424 header, the
    record as MSG), cycled to `count`: the listener takes one source, and the same
    records as the HTTP rows keep the rows comparable (a record sent twice costs ingest
    the same; the processor, not measured here, would store it once)."""
    security = [
        b"<14>1 - bench ioc - - - " + json.dumps(r, ensure_ascii=False).encode()
        for source, r in records
        if source == "security"
    ]
    return [security[i % len(security)] for i in range(count)]


async def _syslog_counts(http: httpx.AsyncClient) -> dict[str, float]:
    """The listener's counters, by `<metric>:<transport>[:<outcome>]`."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families((await http.get("/metrics")).text):
        for sample in family.samples:
            if sample.name.startswith("ioc_syslog_") and (
                sample.name.endswith("_total") or sample.name == KERNEL_DROPS
            ):
                labels = ":".join(sample.labels[k] for k in ("transport", "outcome") if k in
                                  sample.labels)  # fmt: skip
                key = f"{sample.name}:{labels}"
                out[key] = out.get(key, 0.0) + sample.value
    return out


async def measure_syslog_transports(
    settings: Settings, records: list[tuple[str, dict[str, Any]]]
) -> tuple[dict[str, float], dict[str, int]]:
    """Records/s that `ioc syslog` (alone) has acknowledged by the broker, over TCP
    (octet counting, SYSLOG_CONNECTIONS connections) and over UDP (one socket, sending as
    fast as it can); and what became of the UDP datagrams: sent, read by the listener,
    dropped by it (buffer full), delivered - the rest the kernel dropped before the
    listener read them. Each rate is timed from the first send to the last record the
    broker acknowledged."""
    tcp_port, metrics_port = free_port(), free_port()
    alone = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}.syslog",
            "log_level": "WARNING",
            "syslog_tcp_port": tcp_port,
            "syslog_udp_port": tcp_port,
            "syslog_metrics_port": metrics_port,
        }
    )
    await ensure_topics(alone)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
           **alone.environment()}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ioc", "syslog", env=env, preexec_fn=kill_with_parent()
    )
    messages = _syslog_messages(records, len(records))
    count = len(messages)
    out: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{metrics_port}", timeout=10
        ) as http:
            for _ in range(600):
                try:
                    await _syslog_counts(http)
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            streams = [
                b"".join(b"%d %s" % (len(m), m) for m in messages[i::SYSLOG_CONNECTIONS])
                for i in range(SYSLOG_CONNECTIONS)
            ]

            async def send(stream: bytes) -> None:
                _, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
                writer.write(stream)
                await writer.drain()
                writer.close()
                await writer.wait_closed()

            before = await _syslog_counts(http)
            started = time.perf_counter()
            await asyncio.gather(*(send(stream) for stream in streams))
            acked = await _syslog_until(http, "tcp", count, before)
            out["syslog_tcp"] = acked["delivered"] / (acked["at"] - started)
            if acked["delivered"] != count or acked["rejected"]:
                raise RuntimeError(f"ioc syslog over TCP: {acked} of {count} records")
            _say(f"ingest over syslog TCP: {out['syslog_tcp']:,.0f} records/s")

            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.connect(("127.0.0.1", tcp_port))
                before = await _syslog_counts(http)
                started = time.perf_counter()
                sent = 0
                for message in messages:
                    try:
                        sock.send(message)
                        sent += 1
                    except OSError:  # refused by our own socket: not sent
                        pass
            finally:
                sock.close()
            acked = await _syslog_until(http, "udp", sent, before)
            out["syslog_udp"] = acked["delivered"] / (acked["at"] - started)
            after = await _syslog_counts(http)
            kernel = after.get(f"{KERNEL_DROPS}:", 0.0) - before.get(f"{KERNEL_DROPS}:", 0.0)
            udp = {
                "sent": sent,
                "read": int(acked["read"]),
                "dropped_buffer_full": int(acked["dropped"]),
                "delivered": int(acked["delivered"]),
                "lost_in_kernel": sent - int(acked["read"]),
                "kernel_counted": int(kernel),
            }
            _say(
                f"ingest over syslog UDP: {out['syslog_udp']:,.0f} records/s delivered; of "
                f"{sent:,} datagrams sent, {udp['lost_in_kernel']:,} lost before the listener "
                f"read them (the kernel counted {udp['kernel_counted']:,}), "
                f"{udp['dropped_buffer_full']:,} dropped by it (buffer full)"
            )
    finally:
        await _stop_all([process], 45)
    return out, udp


async def _syslog_until(
    http: httpx.AsyncClient, transport: str, count: int, before: dict[str, float]
) -> dict[str, float]:
    """Wait until the listener has `count` records of `transport` acknowledged since
    `before`, or (UDP loses some) until its counts stand still for 2 s; the figures and
    when they last moved."""

    def of(counts: dict[str, float], name: str, suffix: str = "") -> float:
        key = f"ioc_syslog_{name}_total:{transport}{suffix}"
        return counts.get(key, 0.0) - before.get(key, 0.0)

    last: tuple[float, ...] = ()
    moved = time.perf_counter()
    deadline = moved + 180
    while time.perf_counter() < deadline:
        now = await _syslog_counts(http)
        figures = {
            "delivered": of(now, "records", ":accepted"),
            "rejected": of(now, "records", ":rejected"),
            "read": of(now, "messages"),
            "dropped": of(now, "dropped"),
        }
        state = tuple(figures.values())
        if state != last:
            last, moved = state, time.perf_counter()
        if figures["delivered"] + figures["rejected"] >= count or (
            time.perf_counter() - moved > 2
            and figures["read"] > 0
            and figures["read"] == figures["delivered"] + figures["rejected"] + figures["dropped"]
        ):
            return {**figures, "at": moved}
        await asyncio.sleep(0.05)
    raise RuntimeError(f"ioc syslog over {transport}: {last} after 180 s")


PHASES = ("idle", "decode", "write", "dead_letter", "announce", "commit")
WRITE_STEPS = ("stage", "insert", "counts", "refold", "commit")


async def _scrape(http: httpx.AsyncClient) -> dict[str, dict[str, float]]:
    """The processor's phase and write-step counters from its /metrics, in seconds."""
    from prometheus_client.parser import text_string_to_metric_families

    text = (await http.get("/metrics")).text
    wanted = {
        "ioc_processor_phase_seconds_total": "phase",
        "ioc_processor_write_step_seconds_total": "step",
    }
    out: dict[str, dict[str, float]] = {"phase": {}, "step": {}}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                label = wanted[sample.name]
                out[label][sample.labels[label]] = sample.value
    return out


async def _stop_all(processes: Sequence[asyncio.subprocess.Process], seconds: float) -> None:
    """SIGTERM every process, then give each `seconds` to exit before it is killed."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            await asyncio.wait_for(process.wait(), seconds)
        except TimeoutError:
            process.kill()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


async def measure_processor(
    settings: Settings, database: str, events: list[Event], processors: int = 1
) -> dict[str, Any]:
    """`ioc process` alone - `processors` of them in one group - on topics pre-loaded
    with the events as ingest writes them.

    Own topics, database and consumer group, so it starts from nothing like the
    pipeline does. Timed from the process start and from the first stored event to the
    last; the phase counters are read from each processor's /metrics at the first and
    the last stored event, so the breakdown covers the same window as `processor_eps`
    (shares averaged over the processors; CPU summed, in cores).
    """
    from ingestors.publisher import Publisher

    alone = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}.processor",
            "database_url": database,
            "processor_group": "bench-processor-only",
            "log_level": "WARNING",
        }
    )
    await ensure_database(database)
    await migrate(database)
    await ensure_topics(alone)
    producer = make_producer(alone)
    await producer.start()
    try:
        publisher = Publisher(producer, alone)
        for start in range(0, len(events), 5000):
            await publisher.publish(events[start : start + 5000])
    finally:
        await producer.stop()

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    ports = [free_port() for _ in range(processors)]
    conn = await asyncpg.connect(database)
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) for port in ports]
    started = time.perf_counter()
    running = []
    for port in ports:
        own = alone.model_copy(update={"processor_metrics_port": port})
        env = {**base_env, **own.environment()}
        running.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ioc", "process", env=env, preexec_fn=kill_with_parent()
            )
        )
    try:
        deadline = time.monotonic() + 120
        while (first_count := await _stored_total(conn)) == 0:
            exited = [p for p in running if p.returncode is not None]
            if time.monotonic() > deadline or exited:
                raise RuntimeError("the processor stored nothing")
            await asyncio.sleep(0.01)
        first = time.perf_counter()
        before = [await _scrape(http) for http in clients]
        cpu_before = sum(_cpu_seconds(p.pid) for p in running)
        finished = await _wait_stored(conn, len(events), 600)
        after = [await _scrape(http) for http in clients]
        window = time.perf_counter() - first
        cpu = sum(_cpu_seconds(p.pid) for p in running) - cpu_before
        rss = sum(_peak_rss_mb(p.pid) for p in running)
    finally:
        for http in clients:
            await http.aclose()
        await conn.close()
        await _stop_all(running, 15)

    def shares(kind: str, names: tuple[str, ...]) -> dict[str, float]:
        return {
            name: sum(a[kind].get(name, 0.0) - b[kind].get(name, 0.0)
                      for b, a in zip(before, after, strict=True)) / (window * processors)
            for name in names
        }  # fmt: skip

    phases = shares("phase", PHASES)
    # The next batch is decoded while this one is written: decode overlaps the rest.
    looped = sum(share for phase, share in phases.items() if phase != "decode")
    return {
        "processors": processors,
        "processor_eps": (len(events) - first_count) / (finished - first),
        "processor_eps_from_start": len(events) / (finished - started),
        "processor_startup_s": first - started,
        "processor_phase_share": {**phases, "other": 1 - looped},
        "processor_write_step_share": shares("step", WRITE_STEPS),
        "processor_cpu_share": cpu / window,
        "processor_rss_mb": round(rss, 1),
    }


async def _stored_total(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT sum(events) FROM event_totals"))


async def _wait_stored(conn: asyncpg.Connection, target: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    while (stored := await _stored_total(conn)) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {stored} of {target} events stored after {seconds}s")
        await asyncio.sleep(0.02)
    return time.perf_counter()


async def _now(conn: asyncpg.Connection) -> datetime:
    return await conn.fetchval("SELECT clock_timestamp()")


async def _latency(conn: asyncpg.Connection, since: datetime) -> tuple[float, float]:
    """p50 and p99 of ingest → stored over the events ingested since `since`, in ms."""
    row = await conn.fetchrow(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lat), "
        "       percentile_cont(0.99) WITHIN GROUP (ORDER BY lat) "
        "FROM (SELECT extract(epoch FROM stored_at - ingested_at) * 1000 AS lat "
        "      FROM events WHERE ingested_at >= $1) AS l",
        since,
    )
    assert row is not None and row[0] is not None, "no events measured"
    return float(row[0]), float(row[1])


async def _wait_ready(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=2) as http:
        for _ in range(600):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the API at {api_url} did not become ready")


async def measure_pipeline(
    settings: Settings,
    records: list[tuple[str, dict[str, Any]]],
    workdir: Path,
    processors: int = 1,
) -> dict[str, Any]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
        **settings.model_copy(update={"log_level": "WARNING"}).environment(),
    }
    names = {"serve": "serve", **{name: "process" for name in processor_names(processors)}}
    roles = {
        name: await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ioc", role, env=env, preexec_fn=kill_with_parent()
        )
        for name, role in names.items()
    }
    conn = await asyncpg.connect(settings.database_url)
    try:
        await _wait_ready(settings.api_url)
        async with IngestClient(settings.api_url, settings.ingest_token) as client:
            _say("warming up (the processor joins its consumer group)")
            warmup = _events(seed=2, count=200)
            await send_records(client, warmup, label="warm-up", total=len(warmup))
            await _wait_stored(conn, len(warmup), 120)
            stored = len(warmup)
            since = await _now(conn)
            _say(f"saturation: pushing {len(records):,} events as fast as ingest takes them")
            started = time.perf_counter()
            await send_records(client, records, label="pipeline", total=len(records))
            ingest_eps = len(records) / (time.perf_counter() - started)
            stored += len(records)
            finished = await _wait_stored(conn, stored, 600)
            throughput = len(records) / (finished - started)
            saturated = await _latency(conn, since)

            rate = max(50, min(1000, round(throughput / 4)))
            steady = _events(seed=3, count=rate * STEADY_SECONDS)
            _say(f"steady: {rate:,} events/s for {STEADY_SECONDS} s, for latency")
            since = await _now(conn)
            await send_records(
                client, steady, label="steady", total=len(steady), rate=rate, chunk=STEADY_CHUNK
            )
            stored += len(steady)
            await _wait_stored(conn, stored, 120)
            p50, p99 = await _latency(conn, since)
        rss = {name: round(_peak_rss_mb(p.pid), 1) for name, p in roles.items()}
        return {
            "throughput_eps": throughput,
            "ingest_eps": ingest_eps,
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
            "steady_rate_eps": rate,
            "saturated_latency_p50_ms": saturated[0],
            "saturated_latency_p99_ms": saturated[1],
            "rss_mb": round(sum(rss.values()), 1),
            "rss_mb_by_process": rss,
        }
    finally:
        await conn.close()
        await _stop_all(list(roles.values()), 15)


async def _bench(events: int, workdir: Path, processors: int) -> dict[str, Any]:
    broker = EmbeddedBroker(workdir / "broker.log")
    postgres = EmbeddedPostgres(workdir / "postgres")
    try:
        _say("starting the embedded broker and database")
        bootstrap = broker.start()
        server = postgres.start()
        database = with_database(server, "bench")
        port = free_port()
        settings = Settings(
            kafka_bootstrap=bootstrap,
            database_url=database,
            topic_prefix="bench",
            ingest_token="bench-token",
            api_port=port,
            api_url=f"http://127.0.0.1:{port}",
            data_dir=workdir,
        )
        await ensure_database(database)
        await migrate(database)
        await ensure_topics(settings)
        records = _events(seed=1, count=events)
        parsed = [validate_event(source, record) for source, record in records]
        valid = [e for e in parsed if not isinstance(e, list)]
        assert len(valid) == len(records), "the simulator produced invalid events"
        _say(f"ceiling: plain consume + COPY of {events:,} events")
        ceiling = await measure_ceiling(settings, valid)
        _say(f"ceiling: {ceiling:,.0f} events/s")
        _say(
            f"validated ceiling: the same consume, each record validated, COPY into events, "
            f"in {processors} process(es)"
        )
        validated = await measure_validated_ceiling(
            settings, with_database(server, "bench_validated"), len(valid), processors
        )
        _say(f"validated ceiling: {validated:,.0f} events/s")
        _say(
            f"processor only: {events:,} events pre-loaded on its topics, then "
            f"{processors} × `ioc process` in one group"
        )
        alone = await measure_processor(
            settings, with_database(server, "bench_processor"), valid, processors
        )
        _say(f"processor only: {alone['processor_eps']:,.0f} events/s")
        _say(f"ingest per transport: {events:,} records, beside a bare aiokafka producer")
        bare = await measure_bare_producer(settings, valid)
        _say(f"bare producer: {bare:,.0f} records/s")
        transports = await measure_ingest_transports(settings, records)
        syslog, udp = await measure_syslog_transports(settings, records)
        transports.update(syslog)
        pipeline = await measure_pipeline(settings, records, workdir, processors)
        return {
            "events": events,
            **pipeline,
            "ceiling_eps": ceiling,
            "ratio": pipeline["throughput_eps"] / ceiling,
            **alone,
            "processor_ratio": alone["processor_eps"] / ceiling,
            "validated_ceiling_eps": validated,
            "validated_ceiling_ratio": validated / ceiling,
            "processor_to_validated_ratio": alone["processor_eps"] / validated,
            "bare_producer_eps": bare,
            "ingest_transport_eps": transports,
            "ingest_transport_ratio": {name: eps / bare for name, eps in transports.items()},
            "syslog_udp": udp,
            "machine": machine(),
        }
    finally:
        postgres.stop()
        broker.stop()


def _shares(shares: dict[str, float]) -> str:
    return ", ".join(f"{name} {share:.0%}" for name, share in shares.items())


def run_bench(settings: Settings, *, events: int, as_json: bool, processors: int = 1) -> int:
    # The processor-only rate is timed from the first stored batch to the last: fewer
    # than three batches leave nothing, or one batch, to time.
    least = 3 * settings.processor_batch_max
    if events < least:
        print(
            f"ioc bench: --events must be at least {least:,} (three batches of "
            f"IOC_PROCESSOR_BATCH_MAX={settings.processor_batch_max:,}) to time the processor",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="ioc-bench-") as tmp:
        result = asyncio.run(_bench(events, Path(tmp), processors))
    if as_json:
        print(json.dumps(result, indent=2))
        return 0
    m = result["machine"]
    rss = ", ".join(f"{k} {v:,.0f}" for k, v in result["rss_mb_by_process"].items())
    lines = [
        f"IOC bench - {result['events']:,} events on {m['cores']} cores, "
        f"{m['memory_gib']} GiB, {m['cpu']}",
        f"  pipeline  HTTP ingest → Kafka → processor → DB  {result['throughput_eps']:>9,.0f} ev/s",
        f"  ceiling   plain consume + COPY, no logic       {result['ceiling_eps']:>9,.0f} ev/s",
        f"  ingest    HTTP ingest → Kafka acknowledged      {result['ingest_eps']:>9,.0f} ev/s",
        f"  ratio                                          {result['ratio']:>9.3f}",
        f"  validated ceiling  consume + validate + COPY   {result['validated_ceiling_eps']:>9,.0f}"
        f" ev/s (ratio {result['validated_ceiling_ratio']:.3f}; one process, no domain logic)",
        f"  processor only  pre-loaded topics → DB         {result['processor_eps']:>9,.0f} ev/s"
        f"  ({result['processors']} × ioc process)"
        f"  (ratio {result['processor_ratio']:.3f}; "
        f"{result['processor_eps_from_start']:,.0f} ev/s from process start, "
        f"{result['processor_startup_s']:.1f} s to the first stored event)",
        "            wall time: " + _shares(result["processor_phase_share"]),
        "            of it in write: " + _shares(result["processor_write_step_share"]),
        f"            processor CPU {result['processor_cpu_share']:.2f} cores"
        f" (wall-time shares above: per processor, averaged)",
        "  ingest alone, per transport (records/s, ratio to a bare aiokafka producer at "
        f"{result['bare_producer_eps']:,.0f}/s): "
        + ", ".join(
            f"{name} {eps:,.0f} ({result['ingest_transport_ratio'][name]:.2f})"
            for name, eps in result["ingest_transport_eps"].items()
        ),
        "            syslog UDP: {sent:,} datagrams sent as fast as one socket sends, "
        "{lost_in_kernel:,} lost before the listener read them, {dropped_buffer_full:,} "
        "dropped by it (buffer full), {delivered:,} delivered".format(**result["syslog_udp"]),
        f"  latency   ingest → stored at {result['steady_rate_eps']:,} ev/s: "
        f"p50 {result['latency_p50_ms']:,.1f} ms, p99 {result['latency_p99_ms']:,.1f} ms",
        f"            under saturation: p50 {result['saturated_latency_p50_ms']:,.1f} ms, "
        f"p99 {result['saturated_latency_p99_ms']:,.1f} ms",
        f"  peak RSS  {result['rss_mb']:,.0f} MB ({rss})",
    ]
    print("\n".join(lines))
    return 0
